import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createMemoryLogger } from "../../src/log.ts";
import { type GuildStore, StoreOpenError, StoreUnavailableError } from "../../src/store/guild-store.ts";
import { MIGRATIONS } from "../../src/store/migrations.ts";
import { openStore } from "../../src/store/open-store.ts";
import { redactDatabaseUrl } from "../../src/util/database-url.ts";
import { createTestDatabase, type TestDatabase } from "../setup/databases.ts";
import { testDefaults, testGuildId } from "./helpers/defaults.ts";

/** What only PostgreSQL has: its schema table, its start-up failures, and a server that goes away. */

const GUILD = testGuildId(1);
let database: TestDatabase;
const opened: GuildStore[] = [];

async function open(url = database.url, logger = createMemoryLogger().logger): Promise<GuildStore> {
  const { store } = await openStore({ databaseUrl: url, path: "unused", defaults: testDefaults, logger });
  opened.push(store);
  return store;
}

beforeEach(async () => {
  database = await createTestDatabase();
});

afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
  await database.drop();
});

describe("PostgreSQL store", () => {
  it("records every migration, and several processes migrating at once apply each once", async () => {
    await Promise.all([open(), open(), open()]);
    const { rows } = await database.query("SELECT version FROM schema_migrations ORDER BY version");
    expect(rows.map((row) => row.version)).toEqual(MIGRATIONS.map((migration) => migration.version));
  });

  it("refuses a database from a newer build, naming DATABASE_URL", async () => {
    await open();
    await database.query("INSERT INTO schema_migrations (version, description) VALUES (99, 'future')");
    await expect(open()).rejects.toThrow(StoreOpenError);
    await expect(open()).rejects.toThrow(/schema version 99, newer than this build knows .*DATABASE_URL/);
  });

  it("a wrong password or an unreachable server is one readable error without the password", async () => {
    const wrong = new URL(database.url);
    wrong.password = "not-the-password-4f2a";
    const refused = await open(wrong.toString()).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(StoreOpenError);
    expect(String((refused as Error).message)).toMatch(/\(DATABASE_URL\): password authentication failed/);
    expect(String((refused as Error).message)).not.toContain("not-the-password-4f2a");
    expect(String((refused as Error).message)).toContain(redactDatabaseUrl(wrong.toString()));

    const closed = new URL(database.url);
    closed.port = "1";
    const unreachable = await open(closed.toString()).catch((error: unknown) => error);
    expect(unreachable).toBeInstanceOf(StoreOpenError);
    expect(String((unreachable as Error).message)).toMatch(
      /127\.0\.0\.1:1\/.* \(DATABASE_URL\): .*ECONNREFUSED/,
    );
  });

  it("while the server refuses connections, calls fail with StoreUnavailableError and the pool recovers after", async () => {
    const memory = createMemoryLogger();
    const store = await open(database.url, memory.logger);
    await store.changePersona(GUILD, { voice: "coral" });
    const name = new URL(database.url).pathname.slice(1);
    await database.onServer(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
    await database.onServer(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}' AND application_name = 'voicelive-discord'`,
    );

    await expect(store.settings(GUILD)).rejects.toThrow(StoreUnavailableError);
    await expect(store.changePersona(GUILD, { temperature: 1.1 })).rejects.toThrow(
      /settings are unavailable/,
    );
    await store.addUsage(GUILD, { inputTokens: 5 }); // logged and dropped, never thrown
    expect(memory.lines.join("\n")).toMatch(/PostgreSQL: could not/);

    await database.onServer(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
    expect((await store.settings(GUILD)).persona.voice).toBe("coral");
    expect((await store.changePersona(GUILD, { temperature: 1.1 })).ok).toBe(true);
  });
});
