import type { LogLevel } from "./log.ts";
/**
 * Typed, validated configuration read from the environment. `.env` is loaded by Node itself
 * (`--env-file-if-exists`), so this module only ever sees `process.env`-shaped input.
 */

import { voiceKind } from "./persona.ts";
import { databasePassword, isPostgresUrl, redactDatabaseUrl } from "./util/database-url.ts";
import {
  capabilitiesFor,
  DEFAULT_API_VERSION,
  DEFAULT_MODEL,
  DEFAULT_TARGET,
  listed,
  type SessionTarget,
  targetProblems,
} from "./voicelive/capabilities.ts";

/**
 * Agent mode (Foundry Agent Service). Every URL parameter Microsoft documents for it is here
 * [@azure/ai-voicelive AgentSessionConfig; Learn how-to-voice-agent-integration].
 */
export interface AgentConfig {
  /** `agent-name` */
  readonly name: string;
  /** `agent-project-name` */
  readonly project: string;
  /** `agent-version`; absent means the latest. */
  readonly version: string | undefined;
  /** `agent-authentication-identity-client-id`: a user-assigned managed identity for the agent service. */
  readonly identityClientId?: string | undefined;
  /** `foundry-resource-override`: the Foundry resource of a cross-resource agent. */
  readonly foundryResourceOverride?: string | undefined;
  /** `conversation-id`: continue one agent conversation (every session shares it). */
  readonly conversationId?: string | undefined;
}

export type InputSampleRate = 24000 | 16000;

export interface AzureVoiceLiveConfig {
  /** https:// (or http:// for a local server) origin of the Voice Live resource. */
  readonly endpoint: string;
  /** Absent means Microsoft Entra ID through DefaultAzureCredential. */
  readonly apiKey: string | undefined;
  readonly model: string;
  readonly apiVersion: string;
  /** Present means agent mode: `model` is then not sent, and only Entra ID authenticates. */
  readonly agent: AgentConfig | undefined;
  readonly tokenScope: string;
}

export interface Config {
  readonly discord: {
    readonly token: string;
    readonly clientId: string | undefined;
    readonly guildId: string | undefined;
    /** REST base (no version): Discord itself, or a REST proxy in front of it. */
    readonly apiUrl: string;
  };
  /** Absent means the in-process local Voice Live server (echo replies). */
  readonly azure: AzureVoiceLiveConfig | undefined;
  readonly voiceLive: {
    readonly inputSampleRate: InputSampleRate;
    readonly connectionsPerMinute: number;
    readonly sessionMaxMinutes: number;
  };
  readonly persona: {
    readonly defaultInstructions: string;
    readonly defaultVoice: string;
  };
  readonly conversation: {
    readonly idleTimeoutSeconds: number;
    readonly emptyChannelGraceSeconds: number;
  };
  /** Absent: one process, no sharding. */
  readonly sharding: ShardingConfig | undefined;
  readonly commandsPerMinutePerGuild: number;
  readonly databasePath: string;
  /** DATABASE_URL: PostgreSQL instead of the SQLite file (every host then shares one database). */
  readonly databaseUrl: string | undefined;
  readonly logLevel: LogLevel;
  readonly metricsPort: number | undefined;
}

export interface ShardingConfig {
  /** Total shards of the bot: a number, or "auto" for Discord's recommendation (GET /gateway/bot). */
  readonly count: number | "auto";
  /** The shards this host runs (SHARD_IDS); undefined: all of them. */
  readonly ids: readonly number[] | undefined;
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Variables whose values must never be printed, not even in a validation message. */
export const SECRET_VARIABLES: readonly string[] = ["DISCORD_TOKEN", "AZURE_VOICELIVE_API_KEY"];

export const DEFAULTS = {
  DISCORD_API_URL: "https://discord.com/api",
  AZURE_VOICELIVE_MODEL: DEFAULT_MODEL,
  /** The newest GA version the official SDK (@azure/ai-voicelive 1.1.0) targets. */
  AZURE_VOICELIVE_API_VERSION: DEFAULT_API_VERSION,
  AZURE_TOKEN_SCOPE: "https://ai.azure.com/.default",
  DATABASE_PATH: "./data/voicelive-discord.sqlite",
  LOG_LEVEL: "info",
  VOICELIVE_INPUT_SAMPLE_RATE: "24000",
  VOICELIVE_CONNECTIONS_PER_MINUTE: "30",
  VOICELIVE_SESSION_MAX_MINUTES: "55",
  PERSONA_DEFAULT_INSTRUCTIONS:
    "You are a friendly voice assistant in a Discord voice channel. Keep answers short and conversational.",
  /** Only for the default model; otherwise the model's own default voice (capabilities.ts). */
  PERSONA_DEFAULT_VOICE: "alloy",
  IDLE_TIMEOUT_SECONDS: "600",
  EMPTY_CHANNEL_GRACE_SECONDS: "60",
  COMMANDS_PER_MINUTE_PER_GUILD: "20",
} as const;

const AGENT_ONLY_VARIABLES: readonly string[] = [
  "AZURE_VOICELIVE_AGENT_VERSION",
  "AZURE_VOICELIVE_AGENT_IDENTITY_CLIENT_ID",
  "AZURE_VOICELIVE_FOUNDRY_RESOURCE_OVERRIDE",
  "AZURE_VOICELIVE_AGENT_CONVERSATION_ID",
];

const LOG_LEVELS: readonly LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

export interface ConfigRequirements {
  /** `npm start` needs the bot token; `deploy-commands` also needs the application id. */
  readonly discordToken?: boolean;
  readonly discordClientId?: boolean;
}

/** Reads and validates every variable, collecting all problems before throwing one ConfigError. */
export function loadConfig(env: Env, requirements: ConfigRequirements = { discordToken: true }): Config {
  const problems: string[] = [];
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === "" ? undefined : value;
  };
  const shown = (name: string, value: string): string =>
    SECRET_VARIABLES.includes(name) ? "(value hidden)" : JSON.stringify(value.slice(0, 80));

  const integer = (name: string, fallback: string, min: number, max: number): number => {
    const raw = read(name) ?? fallback;
    const value = Number(raw);
    if (!/^-?\d+$/.test(raw) || value < min || value > max) {
      problems.push(`${name} must be a whole number from ${min} to ${max}, got ${shown(name, raw)}`);
      return Number(fallback);
    }
    return value;
  };

  const token = read("DISCORD_TOKEN");
  if (requirements.discordToken && token === undefined) {
    problems.push("DISCORD_TOKEN is required: the bot token from the Discord Developer Portal (Bot > Token)");
  } else if (token !== undefined && /\s/.test(token)) {
    problems.push(`DISCORD_TOKEN must not contain spaces ${shown("DISCORD_TOKEN", token)}`);
  }

  const snowflake = (name: string, required: boolean): string | undefined => {
    const value = read(name);
    if (value === undefined) {
      if (required) problems.push(`${name} is required: the application's numeric id (a Discord snowflake)`);
      return undefined;
    }
    if (!/^\d{17,20}$/.test(value)) {
      problems.push(`${name} must be a Discord snowflake (17 to 20 digits), got ${shown(name, value)}`);
    }
    return value;
  };
  const clientId = snowflake("DISCORD_CLIENT_ID", requirements.discordClientId === true);

  const matching = (name: string, pattern: RegExp, what: string): string | undefined => {
    const value = read(name);
    if (value !== undefined && !pattern.test(value))
      problems.push(`${name} must be ${what}, got ${shown(name, value)}`);
    return value;
  };
  const readAgent = (name: string, project: string): AgentConfig => ({
    name,
    project,
    version: matching("AZURE_VOICELIVE_AGENT_VERSION", /^[\w.-]{1,64}$/, "an agent version such as 3"),
    identityClientId: matching(
      "AZURE_VOICELIVE_AGENT_IDENTITY_CLIENT_ID",
      /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/,
      "the client id (a GUID) of a user-assigned managed identity",
    ),
    foundryResourceOverride: matching(
      "AZURE_VOICELIVE_FOUNDRY_RESOURCE_OVERRIDE",
      /^[A-Za-z0-9][A-Za-z0-9-]{1,62}$/,
      "a Foundry resource name (letters, digits and hyphens)",
    ),
    conversationId: matching(
      "AZURE_VOICELIVE_AGENT_CONVERSATION_ID",
      /^[\w.:-]{1,128}$/,
      "an agent conversation id",
    ),
  });
  const guildId = snowflake("DISCORD_GUILD_ID", false);
  const apiUrl = discordApiUrl(read("DISCORD_API_URL") ?? DEFAULTS.DISCORD_API_URL, problems);

  let azure: AzureVoiceLiveConfig | undefined;
  const endpoint = read("AZURE_VOICELIVE_ENDPOINT");
  const agentName = read("AZURE_VOICELIVE_AGENT_NAME");
  const agentProject = read("AZURE_VOICELIVE_AGENT_PROJECT");
  if ((agentName === undefined) !== (agentProject === undefined)) {
    problems.push(
      "AZURE_VOICELIVE_AGENT_NAME and AZURE_VOICELIVE_AGENT_PROJECT must be set together (agent mode)",
    );
  }
  const tokenScope = read("AZURE_TOKEN_SCOPE") ?? DEFAULTS.AZURE_TOKEN_SCOPE;
  if (!/^https:\/\/\S+\/\.default$/.test(tokenScope)) {
    problems.push(
      `AZURE_TOKEN_SCOPE must look like https://<audience>/.default, got ${shown("AZURE_TOKEN_SCOPE", tokenScope)}`,
    );
  }
  const apiVersion = read("AZURE_VOICELIVE_API_VERSION") ?? DEFAULTS.AZURE_VOICELIVE_API_VERSION;
  const versionWellFormed = /^(\d{4}-\d{2}-\d{2}(-preview)?|v1)$/.test(apiVersion);
  if (!versionWellFormed) {
    problems.push(
      `AZURE_VOICELIVE_API_VERSION must look like ${DEFAULT_API_VERSION} or 2026-06-01-preview, got ${shown("AZURE_VOICELIVE_API_VERSION", apiVersion)}`,
    );
  }
  const model = read("AZURE_VOICELIVE_MODEL") ?? DEFAULTS.AZURE_VOICELIVE_MODEL;
  if (!/^[\w.-]{1,100}$/.test(model)) {
    problems.push(
      `AZURE_VOICELIVE_MODEL must be a model name such as gpt-realtime, got ${shown("AZURE_VOICELIVE_MODEL", model)}`,
    );
  }
  if (endpoint !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(endpoint);
    } catch {
      url = undefined;
    }
    if (url === undefined || !["https:", "http:", "wss:", "ws:"].includes(url.protocol)) {
      problems.push(
        "AZURE_VOICELIVE_ENDPOINT must be a URL such as https://<resource>.services.ai.azure.com (or http://127.0.0.1:<port> for a local server)",
      );
    } else if (url.username !== "" || url.password !== "" || url.search !== "") {
      problems.push(
        "AZURE_VOICELIVE_ENDPOINT must not carry credentials or a query string; put the key in AZURE_VOICELIVE_API_KEY",
      );
    } else {
      azure = {
        endpoint: url.origin.replace(/^ws/, "http"),
        apiKey: read("AZURE_VOICELIVE_API_KEY"),
        model,
        apiVersion,
        agent:
          agentName !== undefined && agentProject !== undefined
            ? readAgent(agentName, agentProject)
            : undefined,
        tokenScope,
      };
    }
  } else if (agentName !== undefined) {
    problems.push(
      "AZURE_VOICELIVE_AGENT_NAME needs AZURE_VOICELIVE_ENDPOINT (agent mode only works with Azure)",
    );
  }
  if (azure?.agent !== undefined && azure.apiKey !== undefined) {
    // "Key-based authentication isn't supported in agent mode" [Learn how-to-voice-agent-integration].
    problems.push(
      "AZURE_VOICELIVE_API_KEY must be unset in agent mode: Voice Live agents accept only Microsoft Entra ID (sign in with az login or a managed identity)",
    );
  }
  if (agentName === undefined) {
    for (const name of AGENT_ONLY_VARIABLES) {
      if (read(name) !== undefined)
        problems.push(`${name} is only used in agent mode (set AZURE_VOICELIVE_AGENT_NAME)`);
    }
  }
  const target: SessionTarget =
    azure === undefined
      ? DEFAULT_TARGET
      : {
          model: azure.agent === undefined ? azure.model : undefined,
          apiVersion,
          agentMode: azure.agent !== undefined,
        };
  for (const problem of azure === undefined || !versionWellFormed ? [] : targetProblems(target)) {
    problems.push(`AZURE_VOICELIVE_API_VERSION / AZURE_VOICELIVE_MODEL: ${problem}`);
  }
  const caps = capabilitiesFor(target);
  const defaultVoice = read("PERSONA_DEFAULT_VOICE") ?? caps.defaultVoice;
  const defaultKind = voiceKind({ voice: defaultVoice, voiceEndpointId: null });
  if (!caps.voiceTypes.includes(defaultKind)) {
    problems.push(
      `PERSONA_DEFAULT_VOICE: ${shown("PERSONA_DEFAULT_VOICE", defaultVoice)} is a ${defaultKind} voice, which ${caps.label} cannot use; it takes ${listed(caps.voiceTypes)} voices (unset it for ${caps.defaultVoice})`,
    );
  }

  const inputRate = integer(
    "VOICELIVE_INPUT_SAMPLE_RATE",
    DEFAULTS.VOICELIVE_INPUT_SAMPLE_RATE,
    16000,
    24000,
  );
  if (inputRate !== 16000 && inputRate !== 24000) {
    problems.push(`VOICELIVE_INPUT_SAMPLE_RATE must be 24000 or 16000, got ${inputRate}`);
  }

  const logLevel = (read("LOG_LEVEL") ?? DEFAULTS.LOG_LEVEL).toLowerCase();
  if (!LOG_LEVELS.includes(logLevel as LogLevel)) {
    problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}, got ${shown("LOG_LEVEL", logLevel)}`);
  }

  const sharding = shardingConfig(read("SHARD_COUNT"), read("SHARD_IDS"), problems);

  const metricsRaw = read("METRICS_PORT");
  const metricsPort = metricsRaw === undefined ? undefined : integer("METRICS_PORT", metricsRaw, 0, 65535);

  const config: Config = {
    discord: { token: token ?? "", clientId, guildId, apiUrl },
    azure,
    voiceLive: {
      inputSampleRate: inputRate === 16000 ? 16000 : 24000,
      connectionsPerMinute: integer(
        "VOICELIVE_CONNECTIONS_PER_MINUTE",
        DEFAULTS.VOICELIVE_CONNECTIONS_PER_MINUTE,
        1,
        10_000,
      ),
      sessionMaxMinutes: integer(
        "VOICELIVE_SESSION_MAX_MINUTES",
        DEFAULTS.VOICELIVE_SESSION_MAX_MINUTES,
        1,
        60,
      ),
    },
    persona: {
      defaultInstructions: read("PERSONA_DEFAULT_INSTRUCTIONS") ?? DEFAULTS.PERSONA_DEFAULT_INSTRUCTIONS,
      defaultVoice,
    },
    conversation: {
      idleTimeoutSeconds: integer("IDLE_TIMEOUT_SECONDS", DEFAULTS.IDLE_TIMEOUT_SECONDS, 10, 86_400),
      emptyChannelGraceSeconds: integer(
        "EMPTY_CHANNEL_GRACE_SECONDS",
        DEFAULTS.EMPTY_CHANNEL_GRACE_SECONDS,
        0,
        3_600,
      ),
    },
    sharding,
    commandsPerMinutePerGuild: integer(
      "COMMANDS_PER_MINUTE_PER_GUILD",
      DEFAULTS.COMMANDS_PER_MINUTE_PER_GUILD,
      1,
      1_000,
    ),
    databasePath: read("DATABASE_PATH") ?? DEFAULTS.DATABASE_PATH,
    databaseUrl: databaseUrl(read("DATABASE_URL"), problems),
    logLevel: logLevel as LogLevel,
    metricsPort,
  };
  if (config.persona.defaultInstructions.length > 4000) {
    problems.push("PERSONA_DEFAULT_INSTRUCTIONS must be at most 4000 characters");
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(config);
}

/**
 * The REST base as @discordjs/rest wants it (it appends /v10/...): http(s), no credentials, query or
 * fragment (the token travels only in the Authorization header), no trailing slash.
 */
function discordApiUrl(raw: string, problems: string[]): string {
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== "https:" && url.protocol !== "http:")) {
    problems.push(
      `DISCORD_API_URL must be an http(s) URL such as ${DEFAULTS.DISCORD_API_URL}, got ${JSON.stringify(raw.slice(0, 80))}`,
    );
    return DEFAULTS.DISCORD_API_URL;
  }
  if (url.username !== "" || url.password !== "" || url.search !== "" || url.hash !== "") {
    problems.push("DISCORD_API_URL must not carry credentials, a query string or a fragment");
    return DEFAULTS.DISCORD_API_URL;
  }
  if (/\/v\d+\/?$/.test(url.pathname)) {
    problems.push(
      `DISCORD_API_URL must not name an API version (the bot adds /v10), got ${JSON.stringify(raw.slice(0, 80))}`,
    );
    return DEFAULTS.DISCORD_API_URL;
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

const MAX_SHARDS = 10_000;

/** SHARD_COUNT (`auto` or a number) and SHARD_IDS (`0-3` or `0,2,5`, only with a number). */
function shardingConfig(
  countRaw: string | undefined,
  idsRaw: string | undefined,
  problems: string[],
): ShardingConfig | undefined {
  if (countRaw === undefined) {
    if (idsRaw !== undefined) problems.push("SHARD_IDS needs SHARD_COUNT (the bot's total number of shards)");
    return undefined;
  }
  let count: number | "auto";
  if (countRaw.toLowerCase() === "auto") count = "auto";
  else if (/^\d+$/.test(countRaw) && Number(countRaw) >= 1 && Number(countRaw) <= MAX_SHARDS)
    count = Number(countRaw);
  else {
    problems.push(
      `SHARD_COUNT must be auto or a whole number from 1 to ${MAX_SHARDS}, got ${JSON.stringify(countRaw.slice(0, 40))}`,
    );
    return undefined;
  }
  if (idsRaw === undefined) return { count, ids: undefined };
  if (count === "auto") {
    problems.push("SHARD_IDS needs a numeric SHARD_COUNT: with auto the ids this host runs are unknown");
    return undefined;
  }
  const ids = parseShardIds(idsRaw);
  if (ids === undefined || ids.some((id) => id >= count)) {
    problems.push(
      `SHARD_IDS must be a range like 0-3 or a list like 0,2 of shard ids below SHARD_COUNT (${count}), got ${JSON.stringify(idsRaw.slice(0, 40))}`,
    );
    return undefined;
  }
  return { count, ids };
}

function parseShardIds(raw: string): number[] | undefined {
  const range = /^(\d+)\s*-\s*(\d+)$/.exec(raw);
  if (range !== null) {
    const from = Number(range[1]);
    const to = Number(range[2]);
    if (to < from || to - from >= MAX_SHARDS) return undefined;
    return Array.from({ length: to - from + 1 }, (_, i) => from + i);
  }
  const parts = raw.split(",").map((part) => part.trim());
  if (parts.some((part) => !/^\d+$/.test(part))) return undefined;
  return [...new Set(parts.map(Number))].sort((a, b) => a - b);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

function databaseUrl(value: string | undefined, problems: string[]): string | undefined {
  if (value === undefined) return undefined;
  let valid = isPostgresUrl(value);
  try {
    valid &&= new URL(value).hostname !== "";
  } catch {
    valid = false;
  }
  if (!valid)
    problems.push(
      `DATABASE_URL must be a PostgreSQL URL such as postgres://user:password@host:5432/dbname (unset it to use the SQLite file at DATABASE_PATH), got ${redactDatabaseUrl(value)}`,
    );
  return value;
}

/** Where sessions go: the configured model or agent, or the local server (default model and version). */
export function sessionTarget(config: Pick<Config, "azure">): SessionTarget {
  const azure = config.azure;
  if (azure === undefined) return DEFAULT_TARGET;
  return azure.agent === undefined
    ? { model: azure.model, apiVersion: azure.apiVersion, agentMode: false }
    : { model: undefined, apiVersion: azure.apiVersion, agentMode: true };
}

/** The secrets of a configuration, for the log redactor. */
export function configSecrets(config: Config): string[] {
  const database = config.databaseUrl === undefined ? undefined : databasePassword(config.databaseUrl);
  return [config.discord.token, config.azure?.apiKey, database].filter(
    (s): s is string => s !== undefined && s.length >= 8,
  );
}
