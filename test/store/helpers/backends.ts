import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import pg from "pg";
import { createTestDatabase } from "../../setup/databases.ts";

/** Where a store under test keeps its data, and raw access to it behind the store's back. */
export interface StoreLocation {
  /** What openStore takes (DATABASE_URL / DATABASE_PATH). */
  readonly options: { readonly databaseUrl?: string; readonly path: string };
  /** One statement with `?` placeholders, straight to the database. */
  raw(sql: string, ...values: (string | number | null)[]): Promise<void>;
  /** Holds the write lock on a guild's settings (and, for SQLite, the whole file) until released. */
  holdLock(guildId: string): Promise<() => Promise<void>>;
  remove(): Promise<void>;
}

export type BackendName = "sqlite" | "postgres";

async function sqliteLocation(): Promise<StoreLocation> {
  const dir = mkdtempSync(join(tmpdir(), "store-test-"));
  const path = join(dir, "nested", "dir", "bot.sqlite");
  return {
    options: { path },
    async raw(sql, ...values) {
      const db = new DatabaseSync(path);
      try {
        db.prepare(sql).run(...values);
      } finally {
        db.close();
      }
    },
    async holdLock() {
      const db = new DatabaseSync(path);
      db.exec("BEGIN IMMEDIATE");
      return async () => {
        db.exec("COMMIT");
        db.close();
      };
    },
    async remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgresLocation(): Promise<StoreLocation> {
  const database = await createTestDatabase();
  const numbered = (sql: string): string => {
    let n = 0;
    return sql.replace(/\?/g, () => `$${++n}`);
  };
  return {
    options: { databaseUrl: database.url, path: "(unused with DATABASE_URL)" },
    async raw(sql, ...values) {
      await database.query(numbered(sql), values);
    },
    async holdLock(guildId) {
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      await client.query("BEGIN");
      await client.query(
        "INSERT INTO guild_settings (guild_id, updated_at) VALUES ($1, 0) ON CONFLICT (guild_id) DO NOTHING",
        [guildId],
      );
      await client.query("SELECT guild_id FROM guild_settings WHERE guild_id = $1 FOR UPDATE", [guildId]);
      return async () => {
        await client.query("COMMIT");
        await client.end();
      };
    },
    remove: () => database.drop(),
  };
}

export const BACKENDS: readonly { readonly name: BackendName; create(): Promise<StoreLocation> }[] = [
  { name: "sqlite", create: sqliteLocation },
  { name: "postgres", create: postgresLocation },
];
