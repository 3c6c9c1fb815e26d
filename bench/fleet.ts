import type { BargeInInfo, BridgeObserver } from "../src/bridge/guild-bridge.ts";
import type { PlaybackItem } from "../src/bridge/ports.ts";
import { sessionTarget } from "../src/config.ts";
import { ConversationManager } from "../src/conversation/manager.ts";
import { localVoiceLiveConfig } from "../src/local/backend.ts";
import { createLogger } from "../src/log.ts";
import { defaultPersona, type GuildSettings } from "../src/persona.ts";
import { trustLoopbackCertificate } from "../src/sim/tls.ts";
import { NO_TOOLS } from "../src/tools/no-tools.ts";
import type { WorldClient } from "./world-client.ts";

/**
 * A lean multi-guild driver for the benchmarks: one ConversationManager (as in production, one per
 * process, one shared clock) joined to N guilds of the world's loopback servers, each with one
 * simulated user, and per-guild observers that keep what the figures are computed from.
 */

/** One frame of bot speech handed to the player. */
export interface SentFrame {
  readonly itemId: string;
  readonly audioReceivedAt: number;
  readonly at: number;
}

export class GuildRecord implements BridgeObserver {
  readonly guildId: string;
  readonly userId: string;
  readonly #keepFrames: boolean;
  readonly #inputHeld: number[];
  readonly sentFrames: SentFrame[] = [];
  readonly bargeIns: BargeInInfo[] = [];
  framesMixed = 0;
  /** Audio appended to Voice Live (the fleet's sessions take 24 kHz input). */
  appendedMs = 0;
  botFramesSent = 0;
  /** performance.now() of the last bot frame handed to the player. */
  lastBotFrameAt = Number.NEGATIVE_INFINITY;
  lastItemId: string | undefined;

  constructor(guildId: string, userId: string, keepFrames: boolean, inputHeld: number[]) {
    this.guildId = guildId;
    this.userId = userId;
    this.#keepFrames = keepFrames;
    this.#inputHeld = inputHeld;
  }

  appended(pcm: Int16Array): void {
    this.appendedMs += pcm.length / 24;
  }

  inputFrameHeld(heldMs: number): void {
    this.framesMixed++;
    this.#inputHeld.push(heldMs);
  }

  botFrameSent(item: PlaybackItem, audioReceivedAt: number, at: number): void {
    this.botFramesSent++;
    this.lastBotFrameAt = at;
    this.lastItemId = item.itemId;
    if (this.#keepFrames) this.sentFrames.push({ itemId: item.itemId, audioReceivedAt, at });
  }

  bargeIn(info: BargeInInfo): void {
    this.bargeIns.push(info);
  }
}

export interface FleetOptions {
  readonly world: WorldClient;
  /** Keep every bot frame handed to the player (bridge figures); off for capacity runs. */
  readonly detailed: boolean;
}

const SETTINGS: GuildSettings = {
  persona: defaultPersona({ instructions: "You are a benchmark.", voice: "alloy" }),
  captions: { enabled: false, channelId: null },
  listen: { mode: "everyone" },
};

/** Guilds joined at once: joining is not measured, and hundreds of TLS handshakes at once could time out. */
const JOIN_BATCH = 10;

export class Fleet {
  readonly manager: ConversationManager;
  readonly guilds: GuildRecord[] = [];
  /** Every input frame's hold time across guilds (clear it to start a measurement window). */
  readonly inputHeldMs: number[] = [];
  readonly #world: WorldClient;
  readonly #detailed: boolean;
  readonly #records = new Map<string, GuildRecord>();
  #nextGuild = 0;

  constructor(options: FleetOptions) {
    trustLoopbackCertificate();
    this.#world = options.world;
    this.#detailed = options.detailed;
    const { voiceLiveUrl, apiKey } = options.world.ready;
    const azure = localVoiceLiveConfig(voiceLiveUrl, apiKey);
    this.manager = new ConversationManager({
      backend: { label: "local", target: sessionTarget({ azure }), endpoint: async () => azure },
      config: {
        voiceLive: { inputSampleRate: 24_000, connectionsPerMinute: 100_000, sessionMaxMinutes: 55 },
        conversation: { idleTimeoutSeconds: 3_600, emptyChannelGraceSeconds: 60 },
      },
      logger: createLogger({ level: "error", pretty: false }),
      observe: (guildId) => this.#records.get(guildId),
    });
  }

  /** Joins `count` more guilds, each with one user in the channel. */
  async join(count: number): Promise<GuildRecord[]> {
    const joined: GuildRecord[] = [];
    for (let done = 0; done < count; done += JOIN_BATCH) {
      const batch = Array.from({ length: Math.min(JOIN_BATCH, count - done) }, () => this.#joinOne());
      joined.push(...(await Promise.all(batch)));
    }
    return joined;
  }

  async close(): Promise<void> {
    await this.manager.closeAll("benchmark over");
  }

  async #joinOne(): Promise<GuildRecord> {
    const n = this.#nextGuild++;
    const guildId = snowflake(1, n);
    const channelId = snowflake(2, n);
    const botUserId = snowflake(3, 0);
    const userId = snowflake(4, n);
    const record = new GuildRecord(guildId, userId, this.#detailed, this.inputHeldMs);
    this.#records.set(guildId, record);
    const adapterCreator = await this.#world.prepareGuild({
      guildId,
      channelId,
      botUserId,
      userIds: [userId],
    });
    await this.manager.join({
      guildId,
      channelId,
      channelName: `bench-${n}`,
      initiatorId: userId,
      botName: "Bench",
      adapterCreator,
      settings: SETTINGS,
      displayName: () => undefined,
      roster: () => [],
      tools: NO_TOOLS,
      isAllowedSpeaker: () => true,
      notify: async () => {},
    });
    this.guilds.push(record);
    return record;
  }
}

/** An 18-digit id: kind in the first digit, index in the last ones. */
function snowflake(kind: number, index: number): string {
  return `${kind}${String(index).padStart(17, "0")}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` every 10 ms; false when `timeoutMs` passes first. */
export async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}
