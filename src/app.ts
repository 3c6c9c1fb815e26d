/**
 * The bot application, composed once: conversations -> Discord client -> router -> auto-leave ->
 * shutdown steps. `npm start` (src/main.ts) runs it against Discord; the simulator and the tests run
 * the same composition against the loopback Discord (DISCORD_API_URL).
 */
import type { TokenCredential } from "@azure/identity";
import { type Client, DiscordjsError, DiscordjsErrorCodes, Events, ShardClientUtil } from "discord.js";
import { COMMANDS } from "../commands/index.ts";
import type { BridgeObserver } from "./bridge/guild-bridge.ts";
import type { Backend } from "./bridge/types.ts";
import { type Config, sessionTarget } from "./config.ts";
import { ConversationManager, type VoiceLiveBackend } from "./conversation/manager.ts";
import { AutoLeave } from "./discord/auto-leave.ts";
import { createDiscordClient, humansInConversation, wireClient } from "./discord/client.ts";
import { noticeLeftoverVoice } from "./discord/leftover-voice.ts";
import { LoginError } from "./discord/login-error.ts";
import { inviteUrl } from "./discord/permissions.ts";
import { RateLimiter } from "./discord/rate-limit.ts";
import { createRouter } from "./discord/router.ts";
import { createShutdown } from "./discord/shutdown.ts";
import { schedule } from "./discord/timers.ts";
import { type LocalBackend, startLocalBackend } from "./local/backend.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics/metrics.ts";
import { type MetricsServer, startMetricsServer } from "./metrics/server.ts";
import type { GuildStore } from "./store/guild-store.ts";

const SHUTDOWN_DEADLINE_MS = 5_000;

export interface BotAppOptions {
  readonly config: Config;
  readonly logger: Logger;
  readonly store: GuildStore;
  readonly metrics: Metrics;
  /** Called with the exit code once shutdown is done (main: process.exit). */
  readonly exit: (code: number) => void;
  /** Entra ID credential for Azure without an API key (default DefaultAzureCredential). */
  readonly credential?: TokenCredential;
  /** Per-guild conversation hooks (the simulator records with them). */
  readonly observe?: (guildId: string) => BridgeObserver | undefined;
  /** What /status calls the backend when `config.azure` points at a local stand-in. */
  readonly backendLabel?: Backend;
  /** @discordjs/voice connection group (several apps in one process). */
  readonly voiceGroup?: string;
}

export interface BotApp {
  readonly client: Client;
  readonly conversations: ConversationManager;
  /** Starts the metrics server (METRICS_PORT) and logs in; rejects with a LoginError. */
  start(): Promise<void>;
  /** Leaves every channel, closes the store and the client, then calls `exit`. */
  shutdown(reason: string, exitCode?: number): Promise<void>;
}

export function createBotApp(options: BotAppOptions): BotApp {
  const { config, logger, store, metrics } = options;
  const voiceLive = voiceLiveBackend(config, logger, options.backendLabel);
  const conversations = new ConversationManager({
    config,
    backend: voiceLive,
    logger,
    usage: store,
    metrics,
    ...(options.credential === undefined ? {} : { credential: options.credential }),
    ...(options.observe === undefined ? {} : { observe: options.observe }),
    ...(options.voiceGroup === undefined ? {} : { voiceGroup: options.voiceGroup }),
  });
  const client = createDiscordClient({ apiUrl: config.discord.apiUrl });
  let metricsServer: MetricsServer | undefined;
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
    services: {
      store,
      conversations,
      logger,
      conversationStarted: (guildId) => autoLeave.check(guildId),
      shardOf: (guildId) => {
        const shard = client.shard;
        return shard === null
          ? undefined
          : { id: ShardClientUtil.shardIdForGuildId(guildId, shard.count), count: shard.count };
      },
    },
    limiter: new RateLimiter({ perMinute: config.commandsPerMinutePerGuild }),
    logger,
  });
  wireClient(client, { router, conversations, autoLeave, logger });
  noticeLeftoverVoice(client, conversations, logger);

  const shutdown = createShutdown({
    steps: [
      { name: "stop auto-leave timers", run: () => autoLeave.stop() },
      { name: "leave voice channels", run: () => conversations.closeAll("the bot is shutting down") },
      { name: "stop the local Voice Live server", run: () => voiceLive.close() },
      { name: "close the database", run: () => store.close() },
      { name: "stop the metrics server", run: () => metricsServer?.close() },
      { name: "disconnect from Discord", run: () => client.destroy() },
    ],
    logger,
    exit: options.exit,
    schedule,
    deadlineMs: SHUTDOWN_DEADLINE_MS,
  });

  client.once(Events.ClientReady, (ready) => {
    logger.info(
      { user: ready.user.tag, guilds: ready.guilds.cache.size, invite: inviteUrl(ready.application.id) },
      "connected to Discord; invite the bot with the link in `invite`",
    );
  });

  return {
    client,
    conversations,
    shutdown,
    async start() {
      if (config.metricsPort !== undefined) {
        metricsServer = await startMetricsServer(
          metrics,
          () => ({
            ok: client.isReady(),
            details: {
              discord: client.isReady() ? "ready" : "connecting",
              conversations: conversations.size,
              backend: conversations.backend,
            },
          }),
          config.metricsPort,
          logger,
        );
      }
      try {
        await client.login(config.discord.token);
      } catch (error) {
        throw isRejectedToken(error)
          ? new LoginError(
              "DISCORD_TOKEN was rejected by Discord (401 Unauthorized): copy the token again from the Developer Portal (Bot > Reset Token)",
            )
          : error;
      }
    },
  };
}

/** discord.js reports a refused token as TokenInvalid (REST 401) or a 4004 gateway close. */
function isRejectedToken(error: unknown): boolean {
  if (error instanceof DiscordjsError && error.code === DiscordjsErrorCodes.TokenInvalid) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return code === 4004 || code === "TokenInvalid";
}

/**
 * The Voice Live the app talks to: the configured Azure resource, or without one the local
 * backend (echo replies), started on the first /join.
 */
function voiceLiveBackend(
  config: Config,
  logger: Logger,
  label: Backend | undefined,
): VoiceLiveBackend & { close(): Promise<void> } {
  const azure = config.azure;
  const target = sessionTarget(config);
  if (azure !== undefined) {
    return { label: label ?? "azure", target, endpoint: async () => azure, close: async () => {} };
  }
  let local: Promise<LocalBackend> | undefined;
  return {
    label: label ?? "local",
    target,
    endpoint: async () => {
      local ??= startLocalBackend({ logger: logger.child({ component: "local-voicelive" }) }).then(
        (backend) => {
          logger.info({ url: backend.server.url }, "local Voice Live server started (echo replies)");
          return backend;
        },
        (error: unknown) => {
          // The next /join tries again rather than failing for good.
          local = undefined;
          throw error;
        },
      );
      return (await local).azure;
    },
    close: async () => {
      await (await local?.catch(() => undefined))?.close();
    },
  };
}
