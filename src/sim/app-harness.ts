import { randomBytes } from "node:crypto";
import { Events } from "discord.js";
import { COMMANDS } from "../../commands/index.ts";
import { type BotApp, createBotApp } from "../app.ts";
import { type Config, type Env, loadConfig } from "../config.ts";
import type { ConversationObserver } from "../conversation/conversation.ts";
import { commandPayload } from "../discord/registry.ts";
import { type LocalVoiceLiveServer, startLocalVoiceLiveServer } from "../local/server.ts";
import { type Logger, log } from "../log.ts";
import { Metrics } from "../metrics/metrics.ts";
import { defaultPersona } from "../persona.ts";
import { openGuildStore } from "../store/guild-store.ts";
import {
  type InteractionRecord,
  type InteractionResponse,
  LoopbackDiscord,
  type SimGuildHandle,
} from "./discord/index.ts";
import { trustLoopbackCertificate } from "./tls.ts";
import { LoopbackVoiceServer } from "./voice-server.ts";

/**
 * The real bot application (src/app.ts, the composition `npm start` runs) against the loopback
 * Discord, the loopback voice server and the local Voice Live server, all in one process. Members
 * run slash commands as interactions; the bot answers through REST and joins voice through the
 * gateway, exactly as with Discord.
 */

export interface AppHarnessOptions {
  /** Extra configuration variables (EMPTY_CHANNEL_GRACE_SECONDS, ...). */
  readonly env?: Env;
  readonly logger?: Logger;
  /** Main gateway heartbeat (Discord: 41.25 s); short makes a zombie connection show quickly. */
  readonly heartbeatIntervalMs?: number;
  readonly interactionWindowMs?: number;
  /** Local Voice Live reply speed (times real time). */
  readonly speed?: number;
  readonly observe?: (guildId: string) => ConversationObserver | undefined;
  readonly metrics?: Metrics;
}

const READY_TIMEOUT_MS = 15_000;
let appCount = 0;

export class AppHarness {
  readonly discord: LoopbackDiscord;
  readonly voice: LoopbackVoiceServer;
  readonly local: LocalVoiceLiveServer;
  readonly app: BotApp;
  readonly config: Config;
  readonly metrics: Metrics;
  /** The first server, with a member who talks to the bot. */
  readonly guild: SimGuildHandle;
  readonly userId: string;
  /** How often `shutdown` was asked to exit, with which code. */
  readonly exits: number[];
  #closed = false;

  private constructor(fields: {
    discord: LoopbackDiscord;
    voice: LoopbackVoiceServer;
    local: LocalVoiceLiveServer;
    app: BotApp;
    config: Config;
    metrics: Metrics;
    guild: SimGuildHandle;
    userId: string;
    exits: number[];
  }) {
    this.exits = fields.exits;
    this.discord = fields.discord;
    this.voice = fields.voice;
    this.local = fields.local;
    this.app = fields.app;
    this.config = fields.config;
    this.metrics = fields.metrics;
    this.guild = fields.guild;
    this.userId = fields.userId;
  }

  /** Starts everything and logs the bot in; resolves once discord.js is ready. */
  static async start(options: AppHarnessOptions = {}): Promise<AppHarness> {
    trustLoopbackCertificate();
    const logger = options.logger ?? log;
    const voice = await LoopbackVoiceServer.start({ logger: logger.child({ component: "loopback-voice" }) });
    const discord = await LoopbackDiscord.start({
      voice,
      logger: logger.child({ component: "loopback-discord" }),
      ...(options.heartbeatIntervalMs === undefined
        ? {}
        : { heartbeatIntervalMs: options.heartbeatIntervalMs }),
      ...(options.interactionWindowMs === undefined
        ? {}
        : { interactionWindowMs: options.interactionWindowMs }),
    });
    discord.registerCommands(commandPayload(COMMANDS));
    const guild = discord.addGuild();
    const userId = discord.addMember(guild.id, { username: "alice" });
    const apiKey = randomBytes(24).toString("base64url");
    const local = await startLocalVoiceLiveServer({
      port: 0,
      apiKey,
      reply: "echo",
      ...(options.speed === undefined ? {} : { speed: options.speed }),
      logger,
    });
    const config = loadConfig({
      DISCORD_TOKEN: discord.token,
      DISCORD_API_URL: discord.apiUrl,
      AZURE_VOICELIVE_ENDPOINT: local.url,
      AZURE_VOICELIVE_API_KEY: apiKey,
      DATABASE_PATH: ":memory:",
      VOICELIVE_CONNECTIONS_PER_MINUTE: "10000",
      ...options.env,
    });
    const store = openGuildStore({
      path: config.databasePath,
      defaults: defaultPersona({
        instructions: config.persona.defaultInstructions,
        voice: config.persona.defaultVoice,
      }),
      logger,
    });
    const metrics = options.metrics ?? new Metrics();
    const exits: number[] = [];
    const app = createBotApp({
      config,
      logger,
      store,
      metrics,
      exit: (code) => exits.push(code),
      backendLabel: "local",
      voiceGroup: `app-${process.pid}-${++appCount}`,
      ...(options.observe === undefined ? {} : { observe: options.observe }),
    });
    const harness = new AppHarness({ discord, voice, local, app, config, metrics, guild, userId, exits });
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("discord.js was not ready in time")), READY_TIMEOUT_MS);
      app.client.once(Events.ClientReady, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    try {
      await app.start();
      await ready;
    } catch (error) {
      await harness.close();
      throw error;
    }
    return harness;
  }

  /** A member runs a command; resolves with its record once the first response arrived. */
  async run(
    command: string,
    values: Readonly<Record<string, string | number | boolean>> = {},
    options: {
      readonly userId?: string;
      readonly permissionOverride?: boolean;
      readonly responses?: number;
    } = {},
  ): Promise<InteractionRecord> {
    const record = this.discord.command(this.guild.id, options.userId ?? this.userId, command, values, {
      ...(options.permissionOverride === undefined ? {} : { permissionOverride: options.permissionOverride }),
    });
    await this.discord.waitForResponses(record, options.responses ?? 1);
    return record;
  }

  /**
   * Waits for `count` responses, then for the bot to fall quiet (nothing more for `quietMs`: a
   * stray error or a late auto-defer would land in that time), and returns all responses.
   */
  async settled(
    record: InteractionRecord,
    count = 1,
    quietMs = 400,
  ): Promise<readonly InteractionResponse[]> {
    await this.discord.waitForResponses(record, count);
    let seen = -1;
    while (seen !== this.discord.requests.length) {
      seen = this.discord.requests.length;
      await new Promise((resolve) => setTimeout(resolve, quietMs));
    }
    return record.responses;
  }

  /** The member joins the voice channel and runs /join; resolves once the conversation is live. */
  async join(userId = this.userId): Promise<InteractionResponse[]> {
    this.discord.setUserVoice(this.guild.id, userId, this.guild.voiceChannelId);
    const record = await this.run("join", {}, { userId, responses: 2 });
    await this.voice.waitForSession(this.guild.id);
    return record.responses;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.app.shutdown("harness closed");
    await this.discord.close();
    await this.voice.close();
    await this.local.close();
  }
}
