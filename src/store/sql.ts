import {
  type Dialect,
  SETTINGS_COLUMNS,
  type SettingsWrite,
  USAGE_COLUMNS,
  type UsageColumn,
} from "./backend.ts";

/**
 * The store's statements, written once: the two dialects differ only in placeholders (`?` / `$n`)
 * and in PostgreSQL's row lock, which SQLite does not need (BEGIN IMMEDIATE locks the file).
 * Column names come from the fixed lists in backend.ts, never from input.
 */

function placeholders(dialect: Dialect, count: number, from = 1): string[] {
  return Array.from({ length: count }, (_, i) => (dialect === "sqlite" ? "?" : `$${from + i}`));
}

export function selectSettingsSql(dialect: Dialect, lock: boolean): string {
  const [guild] = placeholders(dialect, 1);
  const forUpdate = lock && dialect === "postgres" ? " FOR UPDATE" : "";
  return `SELECT ${SETTINGS_COLUMNS.join(", ")} FROM guild_settings WHERE guild_id = ${guild}${forUpdate}`;
}

/** A row to lock before reading, so two first writers for a guild cannot both start from nothing. */
export function ensureSettingsRowSql(dialect: Dialect): string {
  const [guild, at] = placeholders(dialect, 2);
  return `INSERT INTO guild_settings (guild_id, updated_at) VALUES (${guild}, ${at}) ON CONFLICT (guild_id) DO NOTHING`;
}

/** A statement and its parameters. */
export interface Statement {
  readonly sql: string;
  readonly values: readonly (string | number | null)[];
}

/** Sets only the given columns of a guild's row, creating the row if needed. */
export function upsertSettings(
  dialect: Dialect,
  guildId: string,
  fields: SettingsWrite,
  updatedAt: number,
): Statement {
  const columns = SETTINGS_COLUMNS.filter((column) => column in fields);
  const names = ["guild_id", "updated_at", ...columns];
  const set = ["updated_at", ...columns].map((name) => `${name} = excluded.${name}`).join(", ");
  return {
    sql: `INSERT INTO guild_settings (${names.join(", ")}) VALUES (${placeholders(dialect, names.length).join(", ")}) ON CONFLICT (guild_id) DO UPDATE SET ${set}`,
    values: [guildId, updatedAt, ...columns.map((column) => fields[column] ?? null)],
  };
}

/** Adds to a guild's totals for a day in one statement. */
export function addUsage(
  dialect: Dialect,
  guildId: string,
  day: string,
  values: Readonly<Record<UsageColumn, number>>,
): Statement {
  const names = ["guild_id", "day", ...USAGE_COLUMNS];
  const add = USAGE_COLUMNS.map((name) => `${name} = usage_daily.${name} + excluded.${name}`);
  return {
    sql: `INSERT INTO usage_daily (${names.join(", ")}) VALUES (${placeholders(dialect, names.length).join(", ")}) ON CONFLICT (guild_id, day) DO UPDATE SET ${add.join(", ")}`,
    values: [guildId, day, ...USAGE_COLUMNS.map((column) => values[column])],
  };
}

export function selectUsageSql(dialect: Dialect): string {
  const [guild, day] = placeholders(dialect, 2);
  return `SELECT ${USAGE_COLUMNS.join(", ")} FROM usage_daily WHERE guild_id = ${guild} AND day = ${day}`;
}
