/**
 * The benchmarks' "world": the loopback Discord voice server (with the simulated users) and the
 * local Voice Live server, in a child process of the bot under test, so the bot process's CPU and
 * event-loop figures measure the bot alone. Driven over IPC (bench/world-protocol.ts) by
 * bench/world-client.ts. Users speak Opus encoded once at start-up; bot packets are counted here.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import type { DiscordGatewayAdapterLibraryMethods } from "@discordjs/voice";
import { encodeMonoSignal } from "../src/audio/opus-stream.ts";
import { readWav } from "../src/audio/wav.ts";
import { startLocalBackend } from "../src/local/backend.ts";
import { createLogger } from "../src/log.ts";
import { type BotPacket, LoopbackVoiceServer } from "../src/sim/voice-server.ts";
import {
  BURST_BREAK_MS,
  LATE_GAP_MS,
  type PacketLog,
  type PacketStats,
  type WorldCommand,
  type WorldReady,
  type WorldReply,
  type WorldRequest,
  type WorldStats,
} from "./world-protocol.ts";

export const CLIP_FIXTURES = ["weather-question", "meeting-summary", "interruption"] as const;

/** A user's speech as Discord's clients send a microphone: mono Opus packets (48 kHz, 20 ms). */
function encodeClip(name: string): Buffer[] {
  const { samples } = readWav(readFileSync(new URL(`../test/fixtures/speech-${name}.wav`, import.meta.url)));
  return encodeMonoSignal(samples);
}

class GuildPackets {
  packets = 0;
  nonSilent = 0;
  lateGaps = 0;
  underruns = 0;
  maxGapMs = 0;
  userFramesSent = 0;
  #lastAt = Number.NEGATIVE_INFINITY;
  /** Silence frames since the burst's last speech frame; -1 before its first (a stale frame left
   * prepared by the previous burst goes out first, and is not an underrun). */
  #silenceRun = -1;
  #log: { at: number[]; silent: number[] } | undefined;

  record(): void {
    this.#log = { at: [], silent: [] };
  }

  add(packet: BotPacket): void {
    const gap = packet.receivedAt - this.#lastAt;
    this.#lastAt = packet.receivedAt;
    this.packets++;
    const sameBurst = gap < BURST_BREAK_MS;
    if (sameBurst) {
      if (gap > LATE_GAP_MS) this.lateGaps++;
      if (gap > this.maxGapMs) this.maxGapMs = gap;
    } else {
      this.#silenceRun = -1;
    }
    if (packet.isSilence) {
      if (this.#silenceRun >= 0) this.#silenceRun++;
    } else {
      this.nonSilent++;
      if (this.#silenceRun > 0) this.underruns += this.#silenceRun;
      this.#silenceRun = 0;
    }
    this.#log?.at.push(packet.receivedAt);
    this.#log?.silent.push(packet.isSilence ? 1 : 0);
  }

  reset(): void {
    this.packets = 0;
    this.nonSilent = 0;
    this.lateGaps = 0;
    this.underruns = 0;
    this.maxGapMs = 0;
  }

  stats(): PacketStats {
    return {
      packets: this.packets,
      nonSilent: this.nonSilent,
      lateGaps: this.lateGaps,
      underruns: this.underruns,
      maxGapMs: Math.round(this.maxGapMs * 100) / 100,
      userFramesSent: this.userFramesSent,
    };
  }

  packetLog(): PacketLog {
    return { at: Float64Array.from(this.#log?.at ?? []), silent: Uint8Array.from(this.#log?.silent ?? []) };
  }
}

async function main(): Promise<void> {
  const send = process.send?.bind(process);
  if (send === undefined) throw new Error("bench/world.ts runs as a child process with an IPC channel");
  const logger = createLogger({ level: "error", pretty: false });
  const voice = await LoopbackVoiceServer.start({ recordBotAudio: false, logger });
  const apiKey = randomBytes(24).toString("base64url");
  const voiceLive = await startLocalBackend({ apiKey, logger });
  const clips = CLIP_FIXTURES.map(encodeClip);
  const guilds = new Map<string, GuildPackets>();
  const guildPackets = (guildId: string): GuildPackets => {
    let entry = guilds.get(guildId);
    if (entry === undefined) {
      entry = new GuildPackets();
      guilds.set(guildId, entry);
    }
    return entry;
  };
  voice.onBotAudio((packet) => guildPackets(packet.guildId).add(packet));

  const loopDelay = monitorEventLoopDelay({ resolution: 2 });
  loopDelay.enable();
  let cpuAt = process.cpuUsage();
  let windowStart = performance.now();

  const prepare = (command: Extract<WorldCommand, { type: "prepare" }>): Promise<string> => {
    const creator = voice.adapterCreator({ userId: command.botUserId, guildId: command.guildId });
    for (const userId of command.userIds) voice.addUser(command.guildId, userId);
    guildPackets(command.guildId);
    // Plays the bot's main gateway once: the VOICE_SERVER_UPDATE it answers carries the token the
    // bot process's adapter will present. The adapter itself must live in the bot process.
    return new Promise((resolve) => {
      const library: DiscordGatewayAdapterLibraryMethods = {
        onVoiceServerUpdate: (data) => resolve(data.token),
        onVoiceStateUpdate: () => {},
        destroy: () => {},
      };
      creator(library).sendPayload({
        op: 4,
        d: { guild_id: command.guildId, channel_id: command.channelId, self_deaf: false, self_mute: false },
      });
    });
  };

  const handle = async (command: WorldCommand): Promise<unknown> => {
    switch (command.type) {
      case "prepare":
        return prepare(command);
      case "speak": {
        const clip = clips[command.clip % clips.length]!;
        const opus = command.frames === undefined ? clip : clip.slice(0, command.frames);
        const sent = await voice.speakAs(command.guildId, command.userId, { opus });
        guildPackets(command.guildId).userFramesSent += sent;
        return sent;
      }
      case "now":
        return performance.now();
      case "record":
        for (const guildId of command.guildIds) guildPackets(guildId).record();
        return null;
      case "packets":
        return guildPackets(command.guildId).packetLog();
      case "resetStats":
        for (const entry of guilds.values()) entry.reset();
        loopDelay.reset();
        cpuAt = process.cpuUsage();
        windowStart = performance.now();
        return null;
      case "stats":
        return worldStats(guilds, loopDelay.percentile(99) / 1e6, cpuAt, windowStart);
      case "close":
        loopDelay.disable();
        await voice.close();
        await voiceLive.close();
        setImmediate(() => process.disconnect());
        return null;
    }
  };

  process.on("message", (message: WorldRequest) => {
    handle(message.command).then(
      (value) => send({ id: message.id, ok: true, value } satisfies WorldReply),
      (error: unknown) =>
        send({
          id: message.id,
          ok: false,
          error: String((error as Error)?.stack ?? error),
        } satisfies WorldReply),
    );
  });
  send({
    type: "ready",
    voiceEndpoint: voice.endpoint,
    voiceLiveUrl: voiceLive.server.url,
    apiKey,
    clipFrames: clips.map((clip) => clip.length),
  } satisfies WorldReady);
}

function worldStats(
  guilds: ReadonlyMap<string, GuildPackets>,
  loopDelayP99Ms: number,
  cpuAt: NodeJS.CpuUsage,
  windowStart: number,
): WorldStats {
  const perGuild: Record<string, PacketStats> = {};
  const total = { packets: 0, nonSilent: 0, lateGaps: 0, underruns: 0, maxGapMs: 0, userFramesSent: 0 };
  for (const [guildId, entry] of guilds) {
    const stats = entry.stats();
    perGuild[guildId] = stats;
    total.packets += stats.packets;
    total.nonSilent += stats.nonSilent;
    total.lateGaps += stats.lateGaps;
    total.underruns += stats.underruns;
    total.userFramesSent += stats.userFramesSent;
    total.maxGapMs = Math.max(total.maxGapMs, stats.maxGapMs);
  }
  const cpu = process.cpuUsage(cpuAt);
  const elapsedMs = performance.now() - windowStart;
  return {
    ...total,
    worldLoopDelayP99Ms: Math.round(loopDelayP99Ms * 100) / 100,
    worldCpuPercent: Math.round(((cpu.user + cpu.system) / 1000 / elapsedMs) * 10_000) / 100,
    perGuild,
  };
}

await main();
