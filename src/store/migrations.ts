import type { Dialect } from "./backend.ts";

/**
 * The schema's history, oldest first, one text per dialect. Each runs in its own transaction
 * together with the version bump (SQLite's `PRAGMA user_version`, PostgreSQL's `schema_migrations`),
 * so a crash mid-migration leaves the previous version intact. Append new migrations; never edit
 * one that has shipped.
 */
export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly sql: Readonly<Record<Dialect, string>>;
}

/** The few type names that differ; everything else is the same SQL. */
const TYPES: Readonly<Record<Dialect, { bigint: string; real: string; strict: string; keyed: string }>> = {
  sqlite: { bigint: "INTEGER", real: "REAL", strict: "STRICT", keyed: "STRICT, WITHOUT ROWID" },
  postgres: { bigint: "BIGINT", real: "DOUBLE PRECISION", strict: "", keyed: "" },
};

function inBoth(sql: (types: (typeof TYPES)[Dialect]) => string): Readonly<Record<Dialect, string>> {
  return { sqlite: sql(TYPES.sqlite), postgres: sql(TYPES.postgres) };
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "guild settings",
    sql: inBoth(
      (t) => `
      CREATE TABLE guild_settings (
        guild_id TEXT PRIMARY KEY NOT NULL,
        -- Full persona as JSON; NULL follows the configured defaults.
        persona TEXT,
        captions_enabled INTEGER NOT NULL DEFAULT 0,
        captions_channel_id TEXT,
        listen_mode TEXT NOT NULL DEFAULT 'everyone',
        listen_role_id TEXT,
        updated_at ${t.bigint} NOT NULL
      ) ${t.strict};
    `,
    ),
  },
  {
    version: 2,
    description: "daily usage",
    sql: inBoth(
      (t) => `
      CREATE TABLE usage_daily (
        guild_id TEXT NOT NULL,
        day TEXT NOT NULL,
        seconds_appended ${t.real} NOT NULL DEFAULT 0,
        seconds_played ${t.real} NOT NULL DEFAULT 0,
        input_tokens ${t.bigint} NOT NULL DEFAULT 0,
        output_tokens ${t.bigint} NOT NULL DEFAULT 0,
        total_tokens ${t.bigint} NOT NULL DEFAULT 0,
        PRIMARY KEY (guild_id, day)
      ) ${t.keyed};
    `,
    ),
  },
  {
    version: 3,
    description: "Voice Live connection grants shared by every host",
    sql: {
      // A SQLite file serves one host, whose budget lives in its sharding manager or process.
      sqlite: "",
      postgres: `
      CREATE TABLE voicelive_connection_grants (
        id BIGSERIAL PRIMARY KEY,
        -- The Voice Live resource (endpoint origin): resources do not share a budget.
        resource TEXT NOT NULL,
        -- When the connection may open: ms since the epoch on the database's clock.
        granted_at BIGINT NOT NULL
      );
      CREATE INDEX voicelive_connection_grants_by_resource ON voicelive_connection_grants (resource, granted_at);
    `,
    },
  },
];

export class SchemaVersionError extends Error {
  constructor(found: number, known: number, variable: string) {
    super(
      `the database has schema version ${found}, newer than this build knows (${known}); run a newer build or point ${variable} elsewhere`,
    );
    this.name = "SchemaVersionError";
  }
}

/** How a database runs migrations; each call of `transaction` is one transaction holding the schema lock. */
export interface MigrationTarget {
  readonly dialect: Dialect;
  /** DATABASE_PATH or DATABASE_URL, for the message of a too-new schema. */
  readonly variable: string;
  transaction(work: () => Promise<void>): Promise<void>;
  version(): Promise<number>;
  /** Runs the SQL and records the version, inside the current transaction. */
  apply(sql: string, migration: Migration): Promise<void>;
}

/** Brings the schema up to the latest version; returns the versions applied. */
export async function migrate(
  target: MigrationTarget,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number[]> {
  const latest = migrations.at(-1)?.version ?? 0;
  const found = await target.version();
  if (found > latest) throw new SchemaVersionError(found, latest, target.variable);
  const applied: number[] = [];
  for (const migration of migrations) {
    if (migration.version <= found) continue;
    // The version is read again under the lock: another process starting at the same moment
    // may have applied this migration already.
    await target.transaction(async () => {
      if ((await target.version()) >= migration.version) return;
      await target.apply(migration.sql[target.dialect], migration);
      applied.push(migration.version);
    });
  }
  return applied;
}
