import { readFileSync } from "node:fs";
import { joinVoiceChannel, type VoiceConnection } from "@discordjs/voice";
import { correlationAtLag } from "../../src/audio/analysis.ts";
import { FRAME_SAMPLES_48K, FRAME_SAMPLES_48K_STEREO } from "../../src/audio/constants.ts";
import { OpusFrameDecoder } from "../../src/audio/opus.ts";
import { upmixMono } from "../../src/audio/pcm.ts";
import { createInputResampler } from "../../src/audio/resample.ts";
import { readWav } from "../../src/audio/wav.ts";
import type { SpeakerSource } from "../../src/bridge/ports.ts";
import type { LoopbackVoiceServer } from "../../src/sim/voice-server.ts";

/** Shared helpers for tests that run the real @discordjs/voice client against the loopback server. */

let guildCounter = 0;

/**
 * @discordjs/voice keeps one connection per guild id process-wide, so every test takes its own.
 * Snowflake-shaped and unique per worker process.
 */
export function uniqueGuildId(): string {
  guildCounter++;
  return `${process.pid}${String(guildCounter).padStart(6, "0")}`.padEnd(18, "0");
}

export async function waitFor(
  condition: () => boolean,
  what: string,
  timeoutMs = 5_000,
  intervalMs = 10,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** 20 ms frames of a 48 kHz stereo sine. */
export function toneFrames(frequencyHz: number, frames: number, amplitude = 8_000): Int16Array[] {
  const out: Int16Array[] = [];
  for (let f = 0; f < frames; f++) {
    const frame = new Int16Array(FRAME_SAMPLES_48K_STEREO);
    for (let i = 0; i < FRAME_SAMPLES_48K; i++) {
      const t = (f * FRAME_SAMPLES_48K + i) / 48_000;
      const sample = Math.round(amplitude * Math.sin(2 * Math.PI * frequencyHz * t));
      frame[2 * i] = sample;
      frame[2 * i + 1] = sample;
    }
    out.push(frame);
  }
  return out;
}

/** 20 ms 48 kHz stereo frames of a speech fixture (48 kHz mono WAV). */
export function speechFrames(fixture: string, frames: number): Int16Array[] {
  const wav = readWav(readFileSync(new URL(`../fixtures/${fixture}`, import.meta.url)));
  if (wav.sampleRate !== 48_000 || wav.channels !== 1) throw new Error(`${fixture} is not 48 kHz mono`);
  const out: Int16Array[] = [];
  for (let f = 0; f < frames && (f + 1) * FRAME_SAMPLES_48K <= wav.samples.length; f++) {
    const frame = new Int16Array(FRAME_SAMPLES_48K_STEREO);
    upmixMono(wav.samples.subarray(f * FRAME_SAMPLES_48K, (f + 1) * FRAME_SAMPLES_48K), frame);
    out.push(frame);
  }
  return out;
}

/** What a fresh decoder makes of these packets: the reference "after Opus" signal, left channel. */
export function decodeToMono(packets: readonly Uint8Array[]): Float64Array {
  const decoder = new OpusFrameDecoder();
  const out = new Float64Array(packets.length * FRAME_SAMPLES_48K);
  try {
    packets.forEach((packet, f) => {
      const pcm = decoder.decode(packet);
      for (let i = 0; i < FRAME_SAMPLES_48K; i++) out[f * FRAME_SAMPLES_48K + i] = pcm[2 * i]!;
    });
  } finally {
    decoder.destroy();
  }
  return out;
}

/** The frames one after another, as one signal. */
export function joined(frames: readonly Int16Array[]): Float64Array {
  const length = frames.reduce((sum, frame) => sum + frame.length, 0);
  const out = new Float64Array(length);
  let at = 0;
  for (const frame of frames) {
    out.set(frame, at);
    at += frame.length;
  }
  return out;
}

/** Takes a copy of the oldest frame out of a speaker's ring. */
export function takeFrame(speaker: SpeakerSource): Int16Array {
  const frame = speaker.ring.oldest().slice();
  speaker.ring.shift();
  return frame;
}

/** What the bot's input path makes of a 48 kHz mono signal: the same anti-aliased 24 kHz. */
export function atInputRate(mono48k: Float64Array): Float64Array {
  const resampler = createInputResampler(24_000);
  const frame = new Int16Array(FRAME_SAMPLES_48K);
  const frames: Int16Array[] = [];
  for (let at = 0; at + FRAME_SAMPLES_48K <= mono48k.length; at += FRAME_SAMPLES_48K) {
    for (let i = 0; i < FRAME_SAMPLES_48K; i++) frame[i] = mono48k[at + i]!;
    frames.push(resampler.process(frame).slice());
  }
  return joined(frames);
}

/**
 * Normalized correlation of `a` against `b` at the best whole-frame offset of up to `maxFrameLag`
 * frames either way (lost leading frames shift a stream by whole frames), over their overlap.
 */
export function bestFrameCorrelation(
  a: Float64Array,
  b: Float64Array,
  maxFrameLag = 3,
  frameSamples: number = FRAME_SAMPLES_48K,
): number {
  let best = -1;
  for (let lag = -maxFrameLag; lag <= maxFrameLag; lag++) {
    best = Math.max(best, correlationAtLag(a, b, -lag * frameSamples));
  }
  return best;
}

export interface LoopbackJoin {
  readonly guildId: string;
  readonly channelId: string;
  readonly botId: string;
  readonly selfDeaf?: boolean;
  readonly daveEncryption?: boolean;
}

/**
 * Joins the loopback voice server with @discordjs/voice itself, as the bot would, and adds the
 * connection to `opened` for the test's cleanup.
 */
export function joinLoopback(
  server: LoopbackVoiceServer,
  join: LoopbackJoin,
  opened: VoiceConnection[],
): VoiceConnection {
  const connection = joinVoiceChannel({
    guildId: join.guildId,
    channelId: join.channelId,
    adapterCreator: server.adapterCreator({ userId: join.botId, guildId: join.guildId }),
    selfDeaf: join.selfDeaf ?? false,
    daveEncryption: join.daveEncryption ?? true,
  });
  connection.on("error", () => {});
  opened.push(connection);
  return connection;
}
