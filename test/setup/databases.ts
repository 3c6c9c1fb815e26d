import { randomBytes } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";

/** A database of its own on the test server, so tests (and test files running at once) never collide. */
export interface TestDatabase {
  readonly url: string;
  /** Runs SQL as the server's superuser in this database. */
  query(text: string, values?: readonly unknown[]): Promise<pg.QueryResult>;
  /** Runs SQL on the server's maintenance database (for what cannot be done from inside this one). */
  onServer(text: string): Promise<void>;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const server = inject("postgresUrl");
  const name = `voicelive_test_${randomBytes(6).toString("hex")}`;
  const url = new URL(server);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
  pool.on("error", () => undefined);
  const onServer = async (text: string): Promise<void> => {
    const client = new pg.Client({ connectionString: server });
    await client.connect();
    try {
      await client.query(text);
    } finally {
      await client.end();
    }
  };
  await onServer(`CREATE DATABASE ${name}`);
  return {
    url: url.toString(),
    query: (text, values = []) => pool.query(text, [...values]),
    onServer,
    async drop() {
      await pool.end();
      await onServer(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}
