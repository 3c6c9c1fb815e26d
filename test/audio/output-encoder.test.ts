import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { bestLag, correlation, snrDb } from "../../src/audio/analysis.ts";
import { FRAME_SAMPLES_24K, FRAME_SAMPLES_48K } from "../../src/audio/constants.ts";
import { OpusFrameDecoder } from "../../src/audio/opus.ts";
import type { OpusBackendName } from "../../src/audio/opus-backend.ts";
import { loadNativeBackend } from "../../src/audio/opus-native.ts";
import { Mono24kOpusEncoder } from "../../src/audio/output-encoder.ts";
import { rms } from "../../src/audio/pcm.ts";
import { convertSampleRate } from "../../src/audio/rate-convert.ts";
import { readWav } from "../../src/audio/wav.ts";

const CODECS: OpusBackendName[] =
  loadNativeBackend() instanceof Error ? ["opusscript"] : ["native", "opusscript"];

/** Voice Live's side of the path: a speech fixture at 24 kHz mono. */
function voice24k(): Int16Array {
  const wav = readWav(readFileSync(new URL("../fixtures/speech-meeting-summary.wav", import.meta.url)));
  return convertSampleRate(wav.samples, wav.sampleRate, 24_000);
}

/** Encodes 24 kHz frames, decodes as a Discord client does (48 kHz stereo); returns both channels. */
function throughDiscord(
  voice: Int16Array,
  gain: number,
  codec: OpusBackendName,
): { left: Int16Array; right: Int16Array } {
  const encoder = new Mono24kOpusEncoder();
  const decoder = new OpusFrameDecoder({ codec });
  const frames = Math.floor(voice.length / FRAME_SAMPLES_24K);
  const left = new Int16Array(frames * FRAME_SAMPLES_48K);
  const right = new Int16Array(frames * FRAME_SAMPLES_48K);
  for (let f = 0; f < frames; f++) {
    const stereo = decoder.decode(
      encoder.encode(voice.subarray(f * FRAME_SAMPLES_24K, (f + 1) * FRAME_SAMPLES_24K), gain),
    );
    for (let i = 0; i < FRAME_SAMPLES_48K; i++) {
      left[f * FRAME_SAMPLES_48K + i] = stereo[2 * i]!;
      right[f * FRAME_SAMPLES_48K + i] = stereo[2 * i + 1]!;
    }
  }
  expect(decoder.errors).toBe(0);
  encoder.destroy();
  decoder.destroy();
  return { left, right };
}

describe.each(CODECS)("the bot's voice as mono 24 kHz Opus, heard by a 48 kHz stereo %s decoder", (codec) => {
  const voice = voice24k();
  const reference = convertSampleRate(voice, 24_000, 48_000);

  it("plays the same voice on both channels, recognisable (SNR >= 14 dB, correlation >= 0.98)", () => {
    const { left, right } = throughDiscord(voice, 1, codec);
    expect(right).toEqual(left);
    const lag = bestLag(reference.subarray(24_000, 72_000), left.subarray(24_000), 1_000);
    const length = left.length - lag;
    expect(snrDb(reference.subarray(0, length), left.subarray(lag))).toBeGreaterThan(14);
    expect(correlation(reference.subarray(0, length), left.subarray(lag))).toBeGreaterThan(0.98);
  });

  it("applies the volume", () => {
    const full = rms(throughDiscord(voice, 1, codec).left);
    const ducked = rms(throughDiscord(voice, 0.35, codec).left);
    expect(ducked / full).toBeGreaterThan(0.3);
    expect(ducked / full).toBeLessThan(0.4);
  });
});
