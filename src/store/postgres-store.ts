import type pg from "pg";
import type { Logger } from "../log.ts";
import { log } from "../log.ts";
import { redactDatabaseUrl } from "../util/database-url.ts";
import type { SettingsRow, SettingsTransaction, StoreBackend, UsageColumn, UsageRow } from "./backend.ts";
import { GuildStore, type GuildStoreSettings, StoreOpenError, StoreUnavailableError } from "./guild-store.ts";
import { type MigrationTarget, migrate } from "./migrations.ts";
import { createPostgresPool, query } from "./postgres-pool.ts";
import { addUsage, ensureSettingsRowSql, selectSettingsSql, selectUsageSql, upsertSettings } from "./sql.ts";

/**
 * The store in PostgreSQL (DATABASE_URL), shared by every host and shard.
 *
 * Durability: a change is acknowledged after its COMMIT returns, which with PostgreSQL's default
 * `synchronous_commit = on` means the server has flushed it to its WAL: it survives a kill -9 of
 * any bot process, and of the server.
 * Concurrency: a persona change locks the guild's row (`SELECT … FOR UPDATE`, after making sure
 * the row exists) before reading it, so two shards changing different fields serialize and both
 * changes stay; the other setters upsert only their own columns.
 * Failures: a query that fails for want of the server is logged here and surfaces as
 * StoreUnavailableError, which the commands turn into a reply.
 */

/** Any fixed number: the advisory lock every process takes to migrate. */
const MIGRATION_LOCK = 0x766c6462;

class PostgresBackend implements StoreBackend {
  readonly dialect = "postgres";
  readonly #pool: pg.Pool;
  readonly #logger: Logger;

  constructor(pool: pg.Pool, logger: Logger) {
    this.#pool = pool;
    this.#logger = logger;
  }

  async read(guildId: string): Promise<SettingsRow | undefined> {
    const rows = await this.#unavailableOnFailure(() =>
      query<SettingsRow>(
        this.#pool,
        this.#logger.child({ guildId }),
        "read the guild's settings",
        selectSettingsSql("postgres", false),
        [guildId],
      ),
    );
    return rows[0];
  }

  async transaction<T>(
    guildId: string,
    work: (tx: SettingsTransaction) => Promise<{ readonly commit: boolean; readonly value: T }>,
  ): Promise<T> {
    const logger = this.#logger.child({ guildId });
    const client = await this.#unavailableOnFailure(() => this.#connect(logger));
    const run = <Row extends object>(what: string, text: string, values: readonly unknown[]) =>
      this.#unavailableOnFailure(() => query<Row>(client, logger, what, text, values));
    let failure: unknown;
    try {
      await run("start a transaction", "BEGIN", []);
      const { commit, value } = await work({
        read: async () => {
          await run("create the guild's row", ensureSettingsRowSql("postgres"), [guildId, Date.now()]);
          return (
            await run<SettingsRow>("lock the guild's settings", selectSettingsSql("postgres", true), [
              guildId,
            ])
          )[0];
        },
        write: async (fields, updatedAt) => {
          const { sql, values } = upsertSettings("postgres", guildId, fields, updatedAt);
          await run("save the guild's settings", sql, values);
        },
      });
      await run(commit ? "commit" : "roll back", commit ? "COMMIT" : "ROLLBACK", []);
      return value;
    } catch (error) {
      failure = error;
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      // A connection that failed mid-transaction is not given to the next caller.
      client.release(failure instanceof StoreUnavailableError ? failure : undefined);
    }
  }

  async addUsage(guildId: string, day: string, values: Readonly<Record<UsageColumn, number>>): Promise<void> {
    const statement = addUsage("postgres", guildId, day, values);
    await query(this.#pool, this.#logger.child({ guildId }), "record usage", statement.sql, statement.values);
  }

  async usage(guildId: string, day: string): Promise<UsageRow | undefined> {
    const rows = await this.#unavailableOnFailure(() =>
      query<UsageRow>(this.#pool, this.#logger.child({ guildId }), "read usage", selectUsageSql("postgres"), [
        guildId,
        day,
      ]),
    );
    return rows[0];
  }

  async close(): Promise<void> {
    if (!this.#pool.ended) await this.#pool.end();
  }

  async #connect(logger: Logger): Promise<pg.PoolClient> {
    try {
      return await this.#pool.connect();
    } catch (error) {
      logger.warn({ err: error }, "PostgreSQL: could not connect");
      throw error;
    }
  }

  async #unavailableOnFailure<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw error instanceof StoreUnavailableError ? error : new StoreUnavailableError(error);
    }
  }
}

function migrationTarget(client: pg.PoolClient, logger: Logger): MigrationTarget {
  const run = (what: string, text: string, values: readonly unknown[] = []) =>
    query<Record<string, unknown>>(client, logger, what, text, values);
  return {
    dialect: "postgres",
    variable: "DATABASE_URL",
    async transaction(work) {
      // Processes starting together take turns. The lock is taken before BEGIN, not inside the
      // transaction: a transaction only sees tables another one created once it starts after
      // that commit, and the version is read again under the lock.
      await run("take the migration lock", "SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
      try {
        await run("start a migration", "BEGIN");
        try {
          await work();
          await run("commit a migration", "COMMIT");
        } catch (error) {
          await client.query("ROLLBACK").catch(() => undefined);
          throw error;
        }
      } finally {
        await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch(() => undefined);
      }
    },
    async version() {
      const [table] = await run(
        "look for the schema version",
        "SELECT to_regclass('schema_migrations') IS NOT NULL AS present",
      );
      if (table?.present !== true) return 0;
      const [row] = await run(
        "read the schema version",
        "SELECT coalesce(max(version), 0) AS version FROM schema_migrations",
      );
      return typeof row?.version === "number" ? row.version : 0;
    },
    async apply(sql, migration) {
      await run(
        "create the schema version table",
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
      );
      await run(`apply migration ${migration.version}`, sql);
      await run(
        "record the schema version",
        "INSERT INTO schema_migrations (version, description) VALUES ($1, $2)",
        [migration.version, migration.description],
      );
    },
  };
}

export interface PostgresStoreOptions extends GuildStoreSettings {
  readonly url: string;
}

export interface OpenedPostgres {
  readonly store: GuildStore;
  /** The store's pool, shared with the connection budget; closing the store ends it. */
  readonly pool: pg.Pool;
}

/** Connects and migrates. Throws StoreOpenError naming the server (never its password). */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<OpenedPostgres> {
  const logger = (options.logger ?? log).child({ component: "store" });
  const pool = createPostgresPool(options.url, logger);
  try {
    const client = await pool.connect();
    try {
      await migrate(migrationTarget(client, logger));
    } finally {
      client.release();
    }
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw new StoreOpenError(redactDatabaseUrl(options.url), "DATABASE_URL", error);
  }
  return { store: new GuildStore(new PostgresBackend(pool, logger), options), pool };
}
