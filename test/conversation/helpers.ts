import { readFileSync } from "node:fs";
import { afterEach } from "vitest";
import { correlationAtLag } from "../../src/audio/analysis.ts";
import { FRAME_SAMPLES_48K } from "../../src/audio/constants.ts";
import { OpusFrameDecoder } from "../../src/audio/opus.ts";
import { convertSampleRate } from "../../src/audio/rate-convert.ts";
import { readWav } from "../../src/audio/wav.ts";
import {
  discordFramesFromWav,
  type SimGuild,
  SimHarness,
  type SimHarnessOptions,
} from "../../src/sim/harness.ts";
import type { BotPacket } from "../../src/sim/voice-server.ts";
import { waitFor } from "../sim/voice-test-kit.ts";

/** Conversation tests: the real bot path over both loopback servers, and how to judge its audio. */

const FIXTURES = new URL("../fixtures/", import.meta.url);

/** A speech fixture as 48 kHz stereo 20 ms frames, optionally only its first `ms`. */
export function fixtureFrames(name: string, ms?: number): Int16Array[] {
  const frames = discordFramesFromWav(readWav(readFileSync(new URL(name, FIXTURES))));
  return ms === undefined ? frames : frames.slice(0, Math.round(ms / 20));
}

/** The left channel of 48 kHz stereo frames, as one mono signal. */
export function monoOf(frames: readonly Int16Array[]): Int16Array {
  const out = new Int16Array(frames.length * FRAME_SAMPLES_48K);
  frames.forEach((frame, f) => {
    for (let i = 0; i < FRAME_SAMPLES_48K; i++) out[f * FRAME_SAMPLES_48K + i] = frame[2 * i]!;
  });
  return out;
}

/** The same signal at another rate, converted independently of the bot's streaming resamplers. */
export function atRate(pcm: Int16Array, from: number, to: number): Int16Array {
  return convertSampleRate(pcm, from, to);
}

/** The non-silent packets the bot sent, decoded (left channel, 48 kHz). */
export function decodeBotSpeech(packets: readonly BotPacket[]): Int16Array {
  const speech = packets.filter((packet) => !packet.isSilence);
  const out = new Int16Array(speech.length * FRAME_SAMPLES_48K);
  const decoder = new OpusFrameDecoder();
  try {
    speech.forEach((packet, f) => {
      const pcm = decoder.decode(packet.opus);
      for (let i = 0; i < FRAME_SAMPLES_48K; i++) out[f * FRAME_SAMPLES_48K + i] = pcm[2 * i]!;
    });
  } finally {
    decoder.destroy();
  }
  return out;
}

function blockEnergies(pcm: Int16Array, block: number): Float64Array {
  const out = new Float64Array(Math.floor(pcm.length / block));
  for (let b = 0; b < out.length; b++) {
    let sum = 0;
    for (let i = b * block; i < (b + 1) * block; i++) sum += pcm[i]! * pcm[i]!;
    out[b] = Math.sqrt(sum / block);
  }
  return out;
}

/**
 * Normalised correlation of `excerpt` against `reference` at the best alignment (`excerpt[i]` against
 * `reference[i + lag]`), over their overlap. The lag is found coarsely on 10 ms loudness envelopes,
 * then to the sample within ±2 blocks, so a codec or filter delay of any length is allowed for.
 */
export function alignedCorrelation(
  reference: Int16Array,
  excerpt: Int16Array,
  sampleRate: number,
): { correlation: number; lagMs: number } {
  const block = sampleRate / 100;
  const ref = blockEnergies(reference, block);
  const ex = blockEnergies(excerpt, block);
  let coarse = 0;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (let lag = -ex.length + 1; lag < ref.length; lag++) {
    let score = 0;
    let overlap = 0;
    for (let i = Math.max(0, -lag); i < ex.length && i + lag < ref.length; i++) {
      score += ex[i]! * ref[i + lag]!;
      overlap++;
    }
    if (overlap >= ex.length / 2 && score > bestScore) {
      bestScore = score;
      coarse = lag;
    }
  }
  let best = { correlation: -1, lag: 0 };
  for (let lag = (coarse - 2) * block; lag <= (coarse + 2) * block; lag++) {
    const correlation = correlationAtLag(excerpt, reference, lag);
    if (correlation > best.correlation) best = { correlation, lag };
  }
  return { correlation: best.correlation, lagMs: (best.lag * 1000) / sampleRate };
}

/** Amplitude of the `hz` component of `frame` (Goertzel), for a sine of amplitude A about A. */
export function toneAmplitude(frame: Int16Array, hz: number, sampleRate: number): number {
  const w = (2 * Math.PI * hz) / sampleRate;
  const coeff = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < frame.length; i++) {
    const s0 = frame[i]! + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return (2 * Math.sqrt(Math.max(0, power))) / frame.length;
}

/**
 * Registers a harness per test (local backend unless told otherwise), closed after it whatever
 * happened, so every socket and timer goes.
 */
export function useHarness(): (options?: SimHarnessOptions) => Promise<SimHarness> {
  const open: SimHarness[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((harness) => harness.close()));
  });
  return async (options = {}) => {
    const harness = await SimHarness.start(options);
    open.push(harness);
    return harness;
  };
}

/** Waits until the bot has answered a turn and finished playing it. */
export async function untilAnswered(guild: SimGuild, responses: number, timeoutMs = 15_000): Promise<void> {
  await waitFor(() => guild.record.responses.length >= responses, `response ${responses}`, timeoutMs);
  await waitFor(() => guild.status()?.botSpeaking === false, "the bot to finish playing", timeoutMs);
}
