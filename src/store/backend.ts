/**
 * What a database must offer the guild store. SQLite and PostgreSQL implement it with the SQL of
 * sql.ts; everything else (validation, merging, decoding, usage checks) lives once in GuildStore.
 */

export type Dialect = "sqlite" | "postgres";

export const SETTINGS_COLUMNS = [
  "persona",
  "captions_enabled",
  "captions_channel_id",
  "listen_mode",
  "listen_role_id",
] as const;
export type SettingsColumn = (typeof SETTINGS_COLUMNS)[number];
/** Column values as stored; decode.ts trusts none of them. */
export type SettingsRow = Readonly<Record<SettingsColumn, unknown>>;
export type SettingsWrite = Partial<Record<SettingsColumn, string | number | null>>;

export const USAGE_COLUMNS = [
  "seconds_appended",
  "seconds_played",
  "input_tokens",
  "output_tokens",
  "total_tokens",
] as const;
export type UsageColumn = (typeof USAGE_COLUMNS)[number];
export type UsageRow = Readonly<Record<UsageColumn, unknown>>;

/** One guild's row inside a transaction. */
export interface SettingsTransaction {
  /** The row, locked against other writers until the transaction ends; undefined if none yet. */
  read(): Promise<SettingsRow | undefined>;
  /** Sets these columns only (creating the row), so another writer's other fields stay. */
  write(fields: SettingsWrite, updatedAt: number): Promise<void>;
}

export interface StoreBackend {
  readonly dialect: Dialect;
  read(guildId: string): Promise<SettingsRow | undefined>;
  /** Runs `work` in one transaction holding the guild's row; commits only when it says so. */
  transaction<T>(
    guildId: string,
    work: (tx: SettingsTransaction) => Promise<{ readonly commit: boolean; readonly value: T }>,
  ): Promise<T>;
  /** Adds to the guild's totals for `day` in one atomic statement. */
  addUsage(guildId: string, day: string, values: Readonly<Record<UsageColumn, number>>): Promise<void>;
  usage(guildId: string, day: string): Promise<UsageRow | undefined>;
  close(): Promise<void>;
}
