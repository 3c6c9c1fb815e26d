import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { type Logger, log } from "../log.ts";
import {
  applyPersonaChange,
  type CaptionSettings,
  type GuildSettings,
  type ListenPolicy,
  type Persona,
  type PersonaChange,
  type PersonaRules,
  UNRESTRICTED_RULES,
} from "../persona.ts";
import { type Decoded, decodeCaptions, decodeListenPolicy, decodePersona } from "./decode.ts";
import { migrate } from "./migrations.ts";

/** What the conversation layer adds to a guild's usage; absent fields add nothing. */
export interface UsageDelta {
  readonly secondsAppended?: number;
  readonly secondsPlayed?: number;
  readonly inputTokens?: number;
  readonly outputTokens?: number;
  readonly totalTokens?: number;
}

export interface UsageTotals {
  /** UTC day, YYYY-MM-DD. */
  readonly day: string;
  readonly secondsAppended: number;
  readonly secondsPlayed: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly totalTokens: number;
}

export type SettingsChange = { ok: true; settings: GuildSettings } | { ok: false; problems: string[] };

export interface GuildStoreOptions {
  /** A file path (its directory is created) or ":memory:". */
  readonly path: string;
  /** The persona of a guild that has not chosen one: built from the configuration. */
  readonly defaults: Persona;
  readonly logger?: Logger;
  /** Milliseconds since the epoch; injectable so tests can cross a UTC midnight. */
  readonly now?: () => number;
  readonly busyTimeoutMs?: number;
  /** What the configured model allows; a change it refuses is not saved. Default: no model check. */
  readonly rules?: PersonaRules;
}

export class StoreOpenError extends Error {
  constructor(path: string, cause: unknown) {
    super(
      `cannot open the database at ${path} (DATABASE_PATH): ${cause instanceof Error ? cause.message : String(cause)}`,
      {
        cause,
      },
    );
    this.name = "StoreOpenError";
  }
}

const USAGE_FIELDS = [
  "secondsAppended",
  "secondsPlayed",
  "inputTokens",
  "outputTokens",
  "totalTokens",
] as const;
const INTEGER_FIELDS: ReadonlySet<string> = new Set(["inputTokens", "outputTokens", "totalTokens"]);

/**
 * Per-guild settings and daily usage in one SQLite file.
 *
 * Durability: WAL with `synchronous=FULL` fsyncs the log on every commit, so a change the bot has
 * acknowledged survives a process crash and a power loss (`NORMAL` would survive the first only).
 * Writes are rare (admin commands, a usage sample per response), so the fsync costs nothing users notice.
 * Concurrency: every read-modify-write runs inside `BEGIN IMMEDIATE`, which takes the write lock
 * before reading, so two writers changing different fields serialize instead of losing one change;
 * `busy_timeout` makes the second wait rather than fail.
 */
export class GuildStore {
  readonly #db: DatabaseSync;
  readonly #defaults: Persona;
  readonly #rules: PersonaRules;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #select: StatementSync;
  readonly #ensureRow: StatementSync;
  readonly #writePersona: StatementSync;
  readonly #writeCaptions: StatementSync;
  readonly #writeListen: StatementSync;
  readonly #addUsage: StatementSync;
  readonly #selectUsage: StatementSync;

  constructor(db: DatabaseSync, options: GuildStoreOptions) {
    this.#db = db;
    this.#defaults = options.defaults;
    this.#rules = options.rules ?? UNRESTRICTED_RULES;
    this.#logger = (options.logger ?? log).child({ component: "store" });
    this.#now = options.now ?? Date.now;
    this.#select = db.prepare(
      "SELECT persona, captions_enabled, captions_channel_id, listen_mode, listen_role_id FROM guild_settings WHERE guild_id = ?",
    );
    this.#ensureRow = db.prepare(
      "INSERT INTO guild_settings (guild_id, updated_at) VALUES (?, ?) ON CONFLICT (guild_id) DO NOTHING",
    );
    this.#writePersona = db.prepare(
      "UPDATE guild_settings SET persona = ?, updated_at = ? WHERE guild_id = ?",
    );
    this.#writeCaptions = db.prepare(
      "UPDATE guild_settings SET captions_enabled = ?, captions_channel_id = ?, updated_at = ? WHERE guild_id = ?",
    );
    this.#writeListen = db.prepare(
      "UPDATE guild_settings SET listen_mode = ?, listen_role_id = ?, updated_at = ? WHERE guild_id = ?",
    );
    this.#addUsage = db.prepare(`
      INSERT INTO usage_daily (guild_id, day, seconds_appended, seconds_played, input_tokens, output_tokens, total_tokens)
      VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (guild_id, day) DO UPDATE SET
        seconds_appended = seconds_appended + excluded.seconds_appended,
        seconds_played = seconds_played + excluded.seconds_played,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        total_tokens = total_tokens + excluded.total_tokens
    `);
    this.#selectUsage = db.prepare(
      "SELECT seconds_appended, seconds_played, input_tokens, output_tokens, total_tokens FROM usage_daily WHERE guild_id = ? AND day = ?",
    );
  }

  /** What the configured model allows (voice autocomplete reads it). */
  get personaRules(): PersonaRules {
    return this.#rules;
  }

  /** The guild's settings; configured defaults for a guild without a row or with a damaged one. */
  settings(guildId: string): GuildSettings {
    return this.#read(guildId);
  }

  /** Validates the change against the current persona and saves it; on a problem nothing is saved. */
  changePersona(guildId: string, change: PersonaChange): SettingsChange {
    return this.#transaction<SettingsChange>(() => {
      const result = applyPersonaChange(this.#read(guildId).persona, change);
      if (!result.ok) return { commit: false, value: { ok: false, problems: result.problems } };
      const refused = this.#rules.check(result.persona, change);
      if (refused.length > 0) return { commit: false, value: { ok: false, problems: refused } };
      this.#ensureRow.run(guildId, this.#now());
      this.#writePersona.run(JSON.stringify(result.persona), this.#now(), guildId);
      return { commit: true, value: { ok: true, settings: this.#read(guildId) } };
    });
  }

  /** Back to the configured persona (and following it if the configuration changes); captions and listening stay. */
  resetPersona(guildId: string): GuildSettings {
    return this.#write(guildId, () => this.#writePersona.run(null, this.#now(), guildId));
  }

  setCaptions(guildId: string, captions: CaptionSettings): GuildSettings {
    return this.#write(guildId, () =>
      this.#writeCaptions.run(captions.enabled ? 1 : 0, captions.channelId, this.#now(), guildId),
    );
  }

  setListenPolicy(guildId: string, listen: ListenPolicy): GuildSettings {
    const roleId = listen.mode === "role" ? listen.roleId : null;
    return this.#write(guildId, () => this.#writeListen.run(listen.mode, roleId, this.#now(), guildId));
  }

  /** Adds to today's (UTC) totals. Invalid figures (negative, not finite) are logged and skipped. */
  addUsage(guildId: string, delta: UsageDelta): void {
    const values = USAGE_FIELDS.map((field) => {
      const value = delta[field] ?? 0;
      if (!Number.isFinite(value) || value < 0) {
        this.#logger.warn({ guildId, field, value }, "ignoring an invalid usage figure");
        return 0;
      }
      return INTEGER_FIELDS.has(field) ? Math.round(value) : value;
    });
    this.#addUsage.run(guildId, this.#today(), ...values);
  }

  usageToday(guildId: string): UsageTotals {
    const day = this.#today();
    const row = this.#selectUsage.get(guildId, day);
    const figure = (value: unknown): number => (typeof value === "number" ? value : 0);
    return {
      day,
      secondsAppended: figure(row?.seconds_appended),
      secondsPlayed: figure(row?.seconds_played),
      inputTokens: figure(row?.input_tokens),
      outputTokens: figure(row?.output_tokens),
      totalTokens: figure(row?.total_tokens),
    };
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  #today(): string {
    return new Date(this.#now()).toISOString().slice(0, 10);
  }

  #write(guildId: string, update: () => void): GuildSettings {
    return this.#transaction(() => {
      this.#ensureRow.run(guildId, this.#now());
      update();
      return { commit: true, value: this.#read(guildId) };
    });
  }

  #transaction<T>(work: () => { commit: boolean; value: T }): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const { commit, value } = work();
      this.#db.exec(commit ? "COMMIT" : "ROLLBACK");
      return value;
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  #read(guildId: string): GuildSettings {
    const row = this.#select.get(guildId);
    const defaults: GuildSettings = {
      persona: this.#defaults,
      captions: { enabled: false, channelId: null },
      listen: { mode: "everyone" },
    };
    if (row === undefined) return defaults;
    const orDefault = <T>(decoded: Decoded<T>, fallback: T): T => {
      if (decoded.ok) return decoded.value;
      this.#logger.warn(
        { guildId, problem: decoded.problem },
        "stored guild settings are invalid; using the defaults",
      );
      return fallback;
    };
    return {
      persona:
        typeof row.persona === "string"
          ? orDefault(decodePersona(row.persona, this.#defaults), defaults.persona)
          : defaults.persona,
      captions: orDefault(decodeCaptions(row.captions_enabled, row.captions_channel_id), defaults.captions),
      listen: orDefault(decodeListenPolicy(row.listen_mode, row.listen_role_id), defaults.listen),
    };
  }
}

/** The part of the store the commands use. */
export type SettingsStore = Pick<
  GuildStore,
  | "settings"
  | "personaRules"
  | "changePersona"
  | "resetPersona"
  | "setCaptions"
  | "setListenPolicy"
  | "usageToday"
>;

/** The part of the store the conversation layer uses. */
export type UsageRecorder = Pick<GuildStore, "addUsage" | "usageToday">;

/** Opens (creating if needed) and migrates the database. Throws StoreOpenError with a readable message. */
export function openGuildStore(options: GuildStoreOptions): GuildStore {
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
    migrate(db);
    return new GuildStore(db, options);
  } catch (error) {
    db?.close();
    throw new StoreOpenError(options.path, error);
  }
}
