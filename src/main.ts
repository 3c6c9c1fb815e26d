/**
 * `npm start`: configuration -> logger -> store -> the bot application (src/app.ts), a graceful
 * shutdown on SIGINT/SIGTERM, and one clear line for every setup mistake.
 */

import { fileURLToPath } from "node:url";
import { COMMANDS } from "../commands/index.ts";
import { createBotApp } from "./app.ts";
import { opusCodec } from "./audio/opus-codec.ts";
import { personaRules } from "./bridge/persona-rules.ts";
import {
  type Config,
  ConfigError,
  configSecrets,
  loadConfig,
  type ShardingConfig,
  sessionTarget,
} from "./config.ts";
import { LoginError } from "./discord/login-error.ts";
import { createLogger, type Logger, registerSecret, setRootLogger } from "./log.ts";
import { Metrics } from "./metrics/metrics.ts";
import { applyPersonaChange, defaultPersona, type Persona } from "./persona.ts";
import { managerBudgets, type ParentChannel } from "./sharding/connection-budget.ts";
import {
  isShardProcess,
  runShardManager,
  type ShardManagerHandle,
  shardMetricsPort,
} from "./sharding/shard-manager.ts";
import { StoreOpenError } from "./store/guild-store.ts";
import { type OpenedStore, openStore } from "./store/open-store.ts";
import { redactDatabaseUrl } from "./util/database-url.ts";
import { useConnectionBudgets } from "./voicelive/rate-limiter.ts";

/** A mistake in the setup: its message on stderr, no stack trace, exit code 1. */
function exitWithMessage(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

function readConfig(): Config {
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) exitWithMessage(error.message);
    throw error;
  }
}

function configuredPersona(config: Config): Persona {
  const defaults = defaultPersona({
    instructions: config.persona.defaultInstructions,
    voice: config.persona.defaultVoice,
  });
  const checked = applyPersonaChange(defaults, {});
  if (!checked.ok) {
    const named = checked.problems.map((problem) =>
      problem
        .replace(/^voice:/, "PERSONA_DEFAULT_VOICE:")
        .replace(/^instructions:/, "PERSONA_DEFAULT_INSTRUCTIONS:"),
    );
    exitWithMessage(new ConfigError(named).message);
  }
  return checked.persona;
}

async function openConfiguredStore(config: Config, persona: Persona, logger: Logger): Promise<OpenedStore> {
  try {
    const rules = personaRules(sessionTarget(config));
    return await openStore({
      databaseUrl: config.databaseUrl,
      path: config.databasePath,
      defaults: persona,
      logger,
      rules,
    });
  } catch (error) {
    if (error instanceof StoreOpenError) exitWithMessage(error.message);
    throw error;
  }
}

async function main(): Promise<void> {
  const config = readConfig();
  for (const secret of configSecrets(config)) registerSecret(secret);
  const logger = createLogger({ level: config.logLevel });
  setRootLogger(logger);
  process.on("unhandledRejection", (reason) => logger.error({ err: reason }, "unhandled promise rejection"));
  process.on("uncaughtException", (error) => logger.error({ err: error }, "uncaught exception"));

  const persona = configuredPersona(config);
  if (config.sharding !== undefined && !isShardProcess(process.env)) {
    await manageShards(config, config.sharding, logger);
    return;
  }
  const { store, connectionBudgets } = await openConfiguredStore(config, persona, logger);
  if (connectionBudgets !== undefined) {
    // Every host using the database shares one Voice Live connection budget per resource.
    useConnectionBudgets(connectionBudgets);
  } else if (isShardProcess(process.env) && process.send !== undefined) {
    // Shards of one host share one Voice Live connection budget, kept by their manager.
    useConnectionBudgets(managerBudgets(process as ParentChannel));
  }
  const app = createBotApp({
    config: isShardProcess(process.env)
      ? { ...config, metricsPort: shardMetricsPort(config.metricsPort, process.env) }
      : config,
    logger,
    store,
    metrics: new Metrics({
      processMetrics: true,
      ...(isShardProcess(process.env) ? { labels: { shard: String(process.env.SHARDS) } } : {}),
    }),
    exit: (code) => process.exit(code),
  });
  process.on("SIGINT", () => void app.shutdown("SIGINT"));
  process.on("SIGTERM", () => void app.shutdown("SIGTERM"));

  if (config.azure === undefined) {
    logger.warn(
      "no AZURE_VOICELIVE_ENDPOINT: using the local Voice Live backend, which echoes what it hears",
    );
  }
  logger.info(
    {
      backend: app.conversations.backend,
      azureEndpoint: config.azure?.endpoint,
      azureAuth:
        config.azure === undefined ? undefined : config.azure.apiKey === undefined ? "entra-id" : "api-key",
      discordApi: config.discord.apiUrl,
      database:
        config.databaseUrl === undefined ? config.databasePath : redactDatabaseUrl(config.databaseUrl),
      commands: COMMANDS.map((command) => command.data.name),
      opus: opusCodec().backend.name,
      opusNativeUnavailable: opusCodec().nativeUnavailable,
    },
    "starting",
  );
  try {
    await app.start();
  } catch (error) {
    if (error instanceof LoginError) process.stderr.write(`${error.message}\n`);
    else logger.fatal({ err: error }, "could not log in to Discord");
    await app.shutdown("login failed", 1);
  }
}

/** The sharding manager's process: it runs no bot itself, only one child process per shard. */
async function manageShards(config: Config, sharding: ShardingConfig, logger: Logger): Promise<void> {
  let shards: ShardManagerHandle;
  try {
    shards = await runShardManager({ config, sharding, entry: fileURLToPath(import.meta.url), logger });
  } catch (error) {
    if (error instanceof LoginError) exitWithMessage(error.message);
    logger.fatal({ err: error }, "could not start the shards");
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "stopping every shard");
    shards.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

await main();
