/**
 * `npm start`: configuration -> logger -> store -> conversations -> Discord client -> router, and a
 * graceful shutdown on SIGINT/SIGTERM.
 */
import { Events } from "discord.js";
import { type Config, ConfigError, configSecrets, loadConfig, sessionTarget } from "./config.ts";
import { ConversationManager } from "./conversation/manager.ts";
import { AutoLeave } from "./discord/auto-leave.ts";
import { createDiscordClient, humansInConversation, wireClient } from "./discord/client.ts";
import { inviteUrl } from "./discord/permissions.ts";
import { RateLimiter } from "./discord/rate-limit.ts";
import { COMMANDS } from "./discord/registry.ts";
import { createRouter } from "./discord/router.ts";
import { createShutdown } from "./discord/shutdown.ts";
import { schedule } from "./discord/timers.ts";
import { createLogger, type Logger, registerSecret, setRootLogger } from "./log.ts";
import { Metrics } from "./metrics/metrics.ts";
import { type MetricsServer, startMetricsServer } from "./metrics/server.ts";
import { applyPersonaChange, defaultPersona, type Persona } from "./persona.ts";
import { type GuildStore, openGuildStore, StoreOpenError } from "./store/guild-store.ts";
import { personaRules } from "./voicelive/persona-rules.ts";

const SHUTDOWN_DEADLINE_MS = 5_000;

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

function openStore(config: Config, persona: Persona, logger: Logger): GuildStore {
  try {
    const rules = personaRules(sessionTarget(config));
    return openGuildStore({ path: config.databasePath, defaults: persona, logger, rules });
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

  const store = openStore(config, configuredPersona(config), logger);
  const metrics = new Metrics({ processMetrics: true });
  const conversations = new ConversationManager({ config, logger, usage: store, metrics });
  const backend = conversations.backend;

  const client = createDiscordClient();
  let metricsServer: MetricsServer | undefined;
  if (config.metricsPort !== undefined) {
    metricsServer = await startMetricsServer(
      metrics,
      () => ({
        ok: client.isReady(),
        details: {
          discord: client.isReady() ? "ready" : "connecting",
          conversations: conversations.size,
          backend,
        },
      }),
      config.metricsPort,
      logger,
    );
  }
  const autoLeave = new AutoLeave({
    graceMs: config.conversation.emptyChannelGraceSeconds * 1000,
    humansInConversation: humansInConversation(client, conversations),
    leave: (guildId) => {
      conversations
        .leave(guildId, "everyone left the voice channel")
        .catch((error: unknown) => logger.warn({ err: error, guildId }, "could not leave the empty channel"));
    },
    schedule,
  });
  const router = createRouter({
    commands: COMMANDS,
    services: { store, conversations, logger, conversationStarted: (guildId) => autoLeave.check(guildId) },
    limiter: new RateLimiter({ perMinute: config.commandsPerMinutePerGuild }),
    logger,
  });
  wireClient(client, { router, conversations, autoLeave, logger });

  const shutdown = createShutdown({
    steps: [
      { name: "stop auto-leave timers", run: () => autoLeave.stop() },
      { name: "leave voice channels", run: () => conversations.closeAll("the bot is shutting down") },
      { name: "close the database", run: () => store.close() },
      { name: "stop the metrics server", run: () => metricsServer?.close() },
      { name: "disconnect from Discord", run: () => client.destroy() },
    ],
    logger,
    exit: (code) => process.exit(code),
    schedule,
    deadlineMs: SHUTDOWN_DEADLINE_MS,
  });
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));

  client.once(Events.ClientReady, (ready) => {
    logger.info(
      { user: ready.user.tag, guilds: ready.guilds.cache.size, invite: inviteUrl(ready.application.id) },
      "connected to Discord; invite the bot with the link in `invite`",
    );
  });
  if (config.azure === undefined) {
    logger.warn(
      "no AZURE_VOICELIVE_ENDPOINT: using the local Voice Live backend, which echoes what it hears",
    );
  }
  logger.info(
    {
      backend,
      azureEndpoint: config.azure?.endpoint,
      azureAuth:
        config.azure === undefined ? undefined : config.azure.apiKey === undefined ? "entra-id" : "api-key",
      database: config.databasePath,
      commands: COMMANDS.map((command) => command.data.name),
    },
    "starting",
  );
  try {
    await client.login(config.discord.token);
  } catch (error) {
    logger.fatal({ err: error }, "could not log in to Discord");
    await shutdown("login failed", 1);
  }
}

await main();
