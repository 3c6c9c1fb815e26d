import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { log } from "../log.ts";
import type { SettingsRow, SettingsTransaction, StoreBackend, UsageColumn, UsageRow } from "./backend.ts";
import { GuildStore, type GuildStoreSettings, StoreOpenError } from "./guild-store.ts";
import { type MigrationTarget, migrate } from "./migrations.ts";
import { addUsage, type Statement, selectSettingsSql, selectUsageSql, upsertSettings } from "./sql.ts";

/**
 * The store in one SQLite file (node:sqlite), for one host.
 *
 * Durability: WAL with `synchronous=FULL` fsyncs the log on every commit, so a change the bot has
 * acknowledged survives a process crash and a power loss (`NORMAL` would survive the first only).
 * Writes are rare (admin commands, a usage sample per response), so the fsync costs nothing users notice.
 * Concurrency: every read-modify-write runs inside `BEGIN IMMEDIATE`, which takes the write lock
 * before reading, so two processes changing different fields serialize instead of losing one
 * change; `busy_timeout` makes the second wait rather than fail.
 */

export interface SqliteStoreOptions extends GuildStoreSettings {
  /** A file path (its directory is created) or ":memory:". */
  readonly path: string;
  readonly busyTimeoutMs?: number;
}

class SqliteBackend implements StoreBackend {
  readonly dialect = "sqlite";
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();
  /**
   * node:sqlite is synchronous but the store's interface is not: a transaction's work awaits
   * between statements, so calls on this one connection take turns rather than nest a BEGIN.
   */
  #turn: Promise<unknown> = Promise.resolve();

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  read(guildId: string): Promise<SettingsRow | undefined> {
    return this.#inTurn(async () => this.#selectSettings(guildId));
  }

  transaction<T>(
    guildId: string,
    work: (tx: SettingsTransaction) => Promise<{ readonly commit: boolean; readonly value: T }>,
  ): Promise<T> {
    return this.#inTurn(() =>
      this.#inTransaction(() =>
        work({
          read: async () => this.#selectSettings(guildId),
          write: async (fields, updatedAt) => this.#run(upsertSettings("sqlite", guildId, fields, updatedAt)),
        }),
      ),
    );
  }

  addUsage(guildId: string, day: string, values: Readonly<Record<UsageColumn, number>>): Promise<void> {
    return this.#inTurn(async () => this.#run(addUsage("sqlite", guildId, day, values)));
  }

  usage(guildId: string, day: string): Promise<UsageRow | undefined> {
    return this.#inTurn(
      async () => this.#prepared(selectUsageSql("sqlite")).get(guildId, day) as UsageRow | undefined,
    );
  }

  async close(): Promise<void> {
    await this.#turn;
    if (this.#db.isOpen) this.#db.close();
  }

  /** Migrations use the same transactions; they run before the store is handed out, so take no turn. */
  migrationTarget(): MigrationTarget {
    return {
      dialect: "sqlite",
      variable: "DATABASE_PATH",
      transaction: (work) => this.#inTransaction(async () => ({ commit: true, value: await work() })),
      version: async () => {
        const row = this.#db.prepare("PRAGMA user_version").get();
        return typeof row?.user_version === "number" ? row.user_version : 0;
      },
      apply: async (sql, migration) => {
        if (sql !== "") this.#db.exec(sql);
        this.#db.exec(`PRAGMA user_version = ${Math.trunc(migration.version)}`);
      },
    };
  }

  #run(statement: Statement): void {
    this.#prepared(statement.sql).run(...statement.values);
  }

  #selectSettings(guildId: string): SettingsRow | undefined {
    return this.#prepared(selectSettingsSql("sqlite", false)).get(guildId) as SettingsRow | undefined;
  }

  /** The statements are few and fixed (one upsert per set of columns), so each is prepared once. */
  #prepared(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  async #inTransaction<T>(work: () => Promise<{ readonly commit: boolean; readonly value: T }>): Promise<T> {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const { commit, value } = await work();
      this.#db.exec(commit ? "COMMIT" : "ROLLBACK");
      return value;
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  #inTurn<T>(call: () => Promise<T>): Promise<T> {
    const result = this.#turn.then(call);
    this.#turn = result.catch(() => undefined);
    return result;
  }
}

/** Opens (creating if needed) and migrates the file. Throws StoreOpenError with a readable message. */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<GuildStore> {
  let db: DatabaseSync | undefined;
  try {
    if (options.path !== ":memory:") mkdirSync(dirname(options.path), { recursive: true });
    db = new DatabaseSync(options.path);
    const mode = db.prepare("PRAGMA journal_mode = WAL").get()?.journal_mode;
    if (mode !== "wal" && options.path !== ":memory:") {
      (options.logger ?? log).warn(
        { mode },
        "SQLite could not switch to WAL mode; continuing in the reported mode",
      );
    }
    db.exec("PRAGMA synchronous = FULL");
    db.exec(`PRAGMA busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`);
    const backend = new SqliteBackend(db);
    await migrate(backend.migrationTarget());
    return new GuildStore(backend, options);
  } catch (error) {
    db?.close();
    throw new StoreOpenError(options.path, "DATABASE_PATH", error);
  }
}
