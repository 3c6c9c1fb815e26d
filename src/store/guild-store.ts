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
import {
  type SettingsRow,
  type SettingsTransaction,
  type SettingsWrite,
  type StoreBackend,
  USAGE_COLUMNS,
  type UsageColumn,
} from "./backend.ts";
import { type Decoded, decodeCaptions, decodeListenPolicy, decodePersona } from "./decode.ts";

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

/** What the store needs whichever database holds it. */
export interface GuildStoreSettings {
  /** The persona of a guild that has not chosen one: built from the configuration. */
  readonly defaults: Persona;
  readonly logger?: Logger;
  /** Milliseconds since the epoch; injectable so tests can cross a UTC midnight. */
  readonly now?: () => number;
  /** What the configured model allows; a change it refuses is not saved. Default: no model check. */
  readonly rules?: PersonaRules;
}

export class StoreOpenError extends Error {
  /** `where` is a path or an already redacted URL; `variable` the setting that named it. */
  constructor(where: string, variable: "DATABASE_PATH" | "DATABASE_URL", cause: unknown) {
    super(
      `cannot open the database at ${where} (${variable}): ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
    this.name = "StoreOpenError";
  }
}

/**
 * The database could not be reached for this call (a dropped PostgreSQL connection). The message
 * is for the member who ran the command; the cause was logged where it happened.
 */
export class StoreUnavailableError extends Error {
  constructor(cause: unknown) {
    super(
      "Server settings are unavailable right now (the database cannot be reached); try again in a minute.",
      {
        cause,
      },
    );
    this.name = "StoreUnavailableError";
  }
}

/** The `UsageDelta` field each column adds up. */
const USAGE_FIELDS: Readonly<Record<UsageColumn, keyof UsageDelta>> = {
  seconds_appended: "secondsAppended",
  seconds_played: "secondsPlayed",
  input_tokens: "inputTokens",
  output_tokens: "outputTokens",
  total_tokens: "totalTokens",
};
const INTEGER_COLUMNS: ReadonlySet<UsageColumn> = new Set(["input_tokens", "output_tokens", "total_tokens"]);

/**
 * Per-guild settings and daily usage, in SQLite or PostgreSQL (see sqlite-store.ts and
 * postgres-store.ts for each one's durability). Every change is a transaction on the guild's row:
 * a persona change reads the stored persona under the row's write lock, validates the merged
 * result and writes it, so two shards changing different fields at once keep both; the other
 * setters write only their own columns.
 */
export class GuildStore {
  readonly #backend: StoreBackend;
  readonly #defaults: Persona;
  readonly #rules: PersonaRules;
  readonly #logger: Logger;
  readonly #now: () => number;

  constructor(backend: StoreBackend, options: GuildStoreSettings) {
    this.#backend = backend;
    this.#defaults = options.defaults;
    this.#rules = options.rules ?? UNRESTRICTED_RULES;
    this.#logger = (options.logger ?? log).child({ component: "store" });
    this.#now = options.now ?? Date.now;
  }

  /** What the configured model allows (voice autocomplete reads it). */
  get personaRules(): PersonaRules {
    return this.#rules;
  }

  /** The guild's settings; configured defaults for a guild without a row or with a damaged one. */
  async settings(guildId: string): Promise<GuildSettings> {
    return this.#decode(guildId, await this.#backend.read(guildId));
  }

  /** Validates the change against the current persona and saves it; on a problem nothing is saved. */
  changePersona(guildId: string, change: PersonaChange): Promise<SettingsChange> {
    return this.#backend.transaction<SettingsChange>(guildId, async (tx) => {
      const current = this.#decode(guildId, await tx.read()).persona;
      const result = applyPersonaChange(current, change);
      if (!result.ok) return { commit: false, value: { ok: false, problems: result.problems } };
      const refused = this.#rules.check(result.persona, change);
      if (refused.length > 0) return { commit: false, value: { ok: false, problems: refused } };
      return {
        commit: true,
        value: {
          ok: true,
          settings: await this.#written(guildId, tx, { persona: JSON.stringify(result.persona) }),
        },
      };
    });
  }

  /** Back to the configured persona (and following it if the configuration changes); captions and listening stay. */
  resetPersona(guildId: string): Promise<GuildSettings> {
    return this.#write(guildId, { persona: null });
  }

  setCaptions(guildId: string, captions: CaptionSettings): Promise<GuildSettings> {
    return this.#write(guildId, {
      captions_enabled: captions.enabled ? 1 : 0,
      captions_channel_id: captions.channelId,
    });
  }

  setListenPolicy(guildId: string, listen: ListenPolicy): Promise<GuildSettings> {
    return this.#write(guildId, {
      listen_mode: listen.mode,
      listen_role_id: listen.mode === "role" ? listen.roleId : null,
    });
  }

  /**
   * Adds to today's (UTC) totals. Invalid figures (negative, not finite) are logged and skipped.
   * Never rejects: usage is bookkeeping, so a database failure is logged and the figures dropped
   * rather than disturbing the conversation that reported them.
   */
  async addUsage(guildId: string, delta: UsageDelta): Promise<void> {
    const values = {} as Record<UsageColumn, number>;
    for (const column of USAGE_COLUMNS) {
      const field = USAGE_FIELDS[column];
      let value = delta[field] ?? 0;
      if (!Number.isFinite(value) || value < 0) {
        this.#logger.warn({ guildId, field, value }, "ignoring an invalid usage figure");
        value = 0;
      }
      values[column] = INTEGER_COLUMNS.has(column) ? Math.round(value) : value;
    }
    try {
      await this.#backend.addUsage(guildId, this.#today(), values);
    } catch (error) {
      this.#logger.warn({ err: error, guildId, delta }, "could not record usage; these figures are lost");
    }
  }

  async usageToday(guildId: string): Promise<UsageTotals> {
    const day = this.#today();
    const row = await this.#backend.usage(guildId, day);
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

  close(): Promise<void> {
    return this.#backend.close();
  }

  #today(): string {
    return new Date(this.#now()).toISOString().slice(0, 10);
  }

  #write(guildId: string, fields: SettingsWrite): Promise<GuildSettings> {
    return this.#backend.transaction(guildId, async (tx) => ({
      commit: true,
      value: await this.#written(guildId, tx, fields),
    }));
  }

  /** Writes the fields and returns the settings as they now stand, other writers' fields included. */
  async #written(guildId: string, tx: SettingsTransaction, fields: SettingsWrite): Promise<GuildSettings> {
    await tx.write(fields, this.#now());
    return this.#decode(guildId, await tx.read());
  }

  #decode(guildId: string, row: SettingsRow | undefined): GuildSettings {
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
