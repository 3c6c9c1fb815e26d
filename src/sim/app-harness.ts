import type { BotApp } from "../app.ts";
import type { Env } from "../config.ts";
import type { LocalVoiceLiveServer } from "../local/server.ts";
import type { Logger } from "../log.ts";
import type {
  InteractionRecord,
  InteractionResponse,
  LoopbackDiscord,
  SimGuildHandle,
} from "./discord/index.ts";
import { SimHarness } from "./harness.ts";
import type { LoopbackVoiceServer } from "./voice-server.ts";

/**
 * The simulator's harness in application mode, seen from a Discord server: one server with a
 * member, commands run as interactions, and the bot's answers waited for. The end-to-end tests
 * drive the real application (src/app.ts) through it.
 */

export interface AppHarnessOptions {
  /** More configuration variables (EMPTY_CHANNEL_GRACE_SECONDS, ...). */
  readonly env?: Env;
  readonly logger?: Logger;
  /** Main gateway heartbeat (Discord: 41.25 s); short makes a zombie connection show quickly. */
  readonly heartbeatIntervalMs?: number;
}

export class AppHarness {
  readonly sim: SimHarness;
  readonly discord: LoopbackDiscord;
  readonly voice: LoopbackVoiceServer;
  readonly local: LocalVoiceLiveServer;
  readonly app: BotApp;
  /** The first server, with a member who talks to the bot. */
  readonly guild: SimGuildHandle;
  readonly userId: string;

  private constructor(sim: SimHarness, discord: LoopbackDiscord, local: LocalVoiceLiveServer, app: BotApp) {
    this.sim = sim;
    this.discord = discord;
    this.voice = sim.voice;
    this.local = local;
    this.app = app;
    this.guild = discord.addGuild();
    this.userId = discord.addMember(this.guild.id, { username: "alice" });
  }

  /** Starts everything and logs the bot in; resolves once discord.js is ready. */
  static async start(options: AppHarnessOptions = {}): Promise<AppHarness> {
    const sim = await SimHarness.start({
      discord: true,
      backend: { kind: "local" },
      ...(options.heartbeatIntervalMs === undefined
        ? {}
        : { discordTiming: { heartbeatIntervalMs: options.heartbeatIntervalMs } }),
      ...(options.env === undefined ? {} : { env: options.env }),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    });
    const { discord, local, app } = sim;
    if (discord === undefined || local === undefined || app === undefined) {
      await sim.close();
      throw new Error("the harness did not start in application mode with the local backend");
    }
    return new AppHarness(sim, discord, local, app);
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
    const record = this.discord.command(this.guild.id, userId, "join");
    await this.discord.waitForResponses(record, 2);
    await this.voice.waitForSession(this.guild.id);
    return record.responses;
  }

  close(): Promise<void> {
    return this.sim.close();
  }
}
