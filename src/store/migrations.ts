import type { DatabaseSync } from "node:sqlite";

/**
 * The schema's history, oldest first. `PRAGMA user_version` records how many have run; each runs in
 * its own transaction together with the version bump, so a crash mid-migration leaves the previous
 * version intact. Append new migrations; never edit one that has shipped.
 */
export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "guild settings",
    sql: `
      CREATE TABLE guild_settings (
        guild_id TEXT PRIMARY KEY NOT NULL,
        -- Full persona as JSON; NULL follows the configured defaults.
        persona TEXT,
        captions_enabled INTEGER NOT NULL DEFAULT 0,
        captions_channel_id TEXT,
        listen_mode TEXT NOT NULL DEFAULT 'everyone',
        listen_role_id TEXT,
        updated_at INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 2,
    description: "daily usage",
    sql: `
      CREATE TABLE usage_daily (
        guild_id TEXT NOT NULL,
        day TEXT NOT NULL,
        seconds_appended REAL NOT NULL DEFAULT 0,
        seconds_played REAL NOT NULL DEFAULT 0,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        total_tokens INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (guild_id, day)
      ) STRICT, WITHOUT ROWID;
    `,
  },
];

export class SchemaVersionError extends Error {
  constructor(found: number, known: number) {
    super(
      `the database has schema version ${found}, newer than this build knows (${known}); run a newer build or point DATABASE_PATH elsewhere`,
    );
    this.name = "SchemaVersionError";
  }
}

export function schemaVersion(db: DatabaseSync): number {
  const row = db.prepare("PRAGMA user_version").get();
  return typeof row?.user_version === "number" ? row.user_version : 0;
}

/** Brings the schema up to the latest version; returns the versions applied. */
export function migrate(db: DatabaseSync, migrations: readonly Migration[] = MIGRATIONS): number[] {
  const latest = migrations.at(-1)?.version ?? 0;
  const found = schemaVersion(db);
  if (found > latest) throw new SchemaVersionError(found, latest);
  const applied: number[] = [];
  for (const migration of migrations) {
    if (migration.version <= found) continue;
    // The version is read again under the write lock: another process opening the same file at
    // the same moment may have applied this migration already.
    db.exec("BEGIN IMMEDIATE");
    try {
      if (schemaVersion(db) < migration.version) {
        db.exec(migration.sql);
        db.exec(`PRAGMA user_version = ${migration.version}`);
        applied.push(migration.version);
      }
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
  }
  return applied;
}
