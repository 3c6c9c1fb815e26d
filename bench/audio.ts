import { readFileSync } from "node:fs";
import {
  aliasRejectionDb,
  frequencyGrid,
  passbandGainsDb,
  type Resample,
  rippleDb,
} from "../src/audio/analysis.ts";
import { FRAME_SAMPLES_48K, FRAME_SAMPLES_48K_STEREO } from "../src/audio/constants.ts";
import { FrameClock } from "../src/audio/frame-clock.ts";
import { OpusFrameDecoder, OpusFrameEncoder } from "../src/audio/opus.ts";
import type { OpusBackendName } from "../src/audio/opus-backend.ts";
import { loadNativeBackend } from "../src/audio/opus-native.ts";
import { Mono24kOpusEncoder } from "../src/audio/output-encoder.ts";
import { downmixStereo, mixSaturating, upmixMono } from "../src/audio/pcm.ts";
import { createInputResampler, type StreamResampler } from "../src/audio/resample.ts";
import { readWav } from "../src/audio/wav.ts";
import { medianMicroseconds, percentile, round } from "./measure.ts";
import type { BenchSection, Figures } from "./section.ts";

/** Every Opus build this install has, timed side by side in the same run. */
const OPUS_BUILDS: OpusBackendName[] =
  loadNativeBackend() instanceof Error ? ["opusscript"] : ["native", "opusscript"];

/** Speech frames from the fixtures, so codecs and filters see realistic input. */
function speechFrames(): Int16Array[] {
  const frames: Int16Array[] = [];
  for (const name of ["interruption", "meeting-summary", "weather-question"]) {
    const url = new URL(`../test/fixtures/speech-${name}.wav`, import.meta.url);
    const { samples } = readWav(readFileSync(url));
    for (let at = 0; at + FRAME_SAMPLES_48K <= samples.length; at += FRAME_SAMPLES_48K) {
      frames.push(samples.subarray(at, at + FRAME_SAMPLES_48K));
    }
  }
  return frames;
}

function stereoFrames(mono: readonly Int16Array[]): Int16Array[] {
  return mono.map((frame) => {
    const stereo = new Int16Array(FRAME_SAMPLES_48K_STEREO);
    upmixMono(frame, stereo);
    return stereo;
  });
}

function pick<T>(items: readonly T[], index: number): T {
  return items[index % items.length]!;
}

/** Drops every other sample: the 2:1 "resampler" the filter is measured against. */
class NaiveHalver {
  readonly #output = new Int16Array(FRAME_SAMPLES_48K / 2);

  process(input: Int16Array): Int16Array {
    for (let i = 0, j = 0; j < input.length; i++, j += 2) this.#output[i] = input[j]!;
    return this.#output;
  }
}

function oneShot(make: () => { process(input: Int16Array): Int16Array }): () => Resample {
  return () => {
    const resampler = make();
    return (input) => resampler.process(input).slice();
  };
}

function naiveOneShot(): Resample {
  return (input) => input.filter((_, i) => i % 2 === 0);
}

/**
 * Encode and decode cost of one Opus build, on the same speech: decoding Discord-shaped stereo
 * packets and the mono packets Discord's clients (and the bench world's users) send.
 */
function opusTiming(
  mono: readonly Int16Array[],
  stereo: readonly Int16Array[],
  codec: OpusBackendName,
): { encodeUs: number; decodeUs: number; decodeMonoPacketUs: number } {
  const encoder = new OpusFrameEncoder({ codec });
  const packets = stereo.map((frame) => encoder.encode(frame));
  const encodeUs = medianMicroseconds((i) => encoder.encode(pick(stereo, i)));
  encoder.destroy();
  const monoEncoder = new OpusFrameEncoder({ codec, input: { sampleRate: 48_000, channels: 1 } });
  const monoPackets = mono.map((frame) => monoEncoder.encode(frame));
  monoEncoder.destroy();
  const decoder = new OpusFrameDecoder({ codec });
  const decodeUs = medianMicroseconds((i) => decoder.decode(pick(packets, i)));
  const decodeMonoPacketUs = medianMicroseconds((i) => decoder.decode(pick(monoPackets, i)));
  decoder.destroy();
  return {
    encodeUs: round(encodeUs),
    decodeUs: round(decodeUs),
    decodeMonoPacketUs: round(decodeMonoPacketUs),
  };
}

function timing(mono: readonly Int16Array[], stereo: readonly Int16Array[]): Figures {
  const encoder = new OpusFrameEncoder();
  const packets = stereo.map((frame) => encoder.encode(frame));
  const opusEncodeUs = medianMicroseconds((i) => encoder.encode(pick(stereo, i)));
  encoder.destroy();

  const decoder = new OpusFrameDecoder();
  const opusDecodeUs = medianMicroseconds((i) => decoder.decode(pick(packets, i)));

  const to24 = createInputResampler(24_000);
  const to16 = createInputResampler(16_000);
  const naive = new NaiveHalver();
  const downsample48to24Us = medianMicroseconds((i) => to24.process(pick(mono, i)));
  const downsample48to16Us = medianMicroseconds((i) => to16.process(pick(mono, i)));
  const naiveDownsampleUs = medianMicroseconds((i) => naive.process(pick(mono, i)));

  const downmixed = new Int16Array(FRAME_SAMPLES_48K);
  to24.reset();
  const decodeDownsamplePerFrameUs = medianMicroseconds((i) => {
    downmixStereo(decoder.decode(pick(packets, i)), downmixed);
    to24.process(downmixed);
  });
  decoder.destroy();

  const voice24 = mono.map((frame) => createInputResampler(24_000).process(frame).slice());

  const output = new Mono24kOpusEncoder();
  const outputEncodePerFrameUs = medianMicroseconds((i) => output.encode(pick(voice24, i), 1));
  output.destroy();

  const speakers = [0, 1, 2, 3].map((k) => voice24.slice(k * 50));
  const slots: Int16Array[] = [];
  const mixed = new Int16Array(voice24[0]!.length);
  const mix4Us = medianMicroseconds((i) => {
    for (let k = 0; k < 4; k++) slots[k] = pick(speakers[k]!, i);
    mixSaturating(slots, 4, mixed);
  });

  // input_audio_buffer.append carries 40 ms of 24 kHz PCM16 (1920 bytes) as base64.
  const appendChunks = voice24.slice(0, -1).map((frame, i) => {
    const chunk = new Int16Array(2 * frame.length);
    chunk.set(frame);
    chunk.set(voice24[i + 1]!, frame.length);
    return Buffer.from(chunk.buffer);
  });
  let sink = 0;
  const appendBase64Us = medianMicroseconds((i) => {
    const event = `{"type":"input_audio_buffer.append","audio":"${pick(appendChunks, i).toString("base64")}"}`;
    sink += event.length;
  });
  if (sink === 0) throw new Error("append benchmark produced nothing");

  return {
    opusCodec: decoder.codecName,
    opusDecodeUs: round(opusDecodeUs),
    opusEncodeUs: round(opusEncodeUs),
    downsample48to24Us: round(downsample48to24Us),
    downsample48to16Us: round(downsample48to16Us),
    mix4Us: round(mix4Us),
    appendBase64Us: round(appendBase64Us),
    decodeDownsamplePerFrameUs: round(decodeDownsamplePerFrameUs),
    outputEncodePerFrameUs: round(outputEncodePerFrameUs),
    opusBuilds: Object.fromEntries(OPUS_BUILDS.map((codec) => [codec, opusTiming(mono, stereo, codec)])),
    naiveDownsampleUs: round(naiveDownsampleUs),
  };
}

function filterQuality(): Figures {
  const to24 = oneShot(() => createInputResampler(24_000));
  const to16 = oneShot(() => createInputResampler(16_000));
  const ripple24 = rippleDb(passbandGainsDb(to24, 48_000, frequencyGrid(20, 9_600, 60)));
  const ripple16 = rippleDb(passbandGainsDb(to16, 48_000, frequencyGrid(20, 6_400, 60)));
  const delays = [createInputResampler(24_000), createInputResampler(16_000)].map(
    (resampler: StreamResampler) => round(resampler.delayMs, 3),
  );
  return {
    downsample48to24StopbandDb: round(aliasRejectionDb(to24, 48_000, 24_000, 12_000, 23_990, 200)),
    downsample48to16StopbandDb: round(aliasRejectionDb(to16, 48_000, 16_000, 8_000, 23_990, 250)),
    passbandRippleDb: round(Math.max(ripple24, ripple16), 4),
    passbandRipple48to24Db: round(ripple24, 4),
    passbandRipple48to16Db: round(ripple16, 4),
    groupDelayMs: { downsample48to24: delays[0]!, downsample48to16: delays[1]! },
  };
}

/** Runs a real FrameClock for a few seconds and reports how late its ticks arrive. */
function frameClockJitter(durationMs: number): Promise<Figures> {
  const lateness: number[] = [];
  return new Promise((resolve) => {
    const clock = new FrameClock({
      onTick: (_tick, dueMs) => {
        lateness.push(performance.now() - dueMs);
        if (lateness.length * 20 >= durationMs) {
          clock.stop();
          resolve({
            frameClockJitterP50Ms: round(percentile(lateness, 50), 3),
            frameClockJitterP99Ms: round(percentile(lateness, 99), 3),
            frameClockJitterMaxMs: round(Math.max(...lateness), 3),
            frameClockTicks: lateness.length,
            frameClockSkippedTicks: clock.skippedTicks,
          });
        }
      },
    });
    clock.start();
  });
}

export const section: BenchSection = {
  description: "audio core: Opus, resamplers, mixer, base64, frame clock (us per 20 ms frame unless named)",
  targets: [
    { figure: "downsample48to24StopbandDb", atLeast: 60 },
    { figure: "downsample48to16StopbandDb", atLeast: 60 },
    { figure: "passbandRippleDb", atMost: 0.5 },
    { figure: "decodeDownsamplePerFrameUs", atMost: 60 },
  ],
  async run() {
    const mono = speechFrames();
    const stereo = stereoFrames(mono);
    const { naiveDownsampleUs, ...times } = timing(mono, stereo);
    const quality = filterQuality();
    const naiveRipple = rippleDb(passbandGainsDb(naiveOneShot, 48_000, frequencyGrid(20, 9_600, 60)));
    return {
      ...times,
      ...quality,
      naive: {
        downsample48to24Us: naiveDownsampleUs!,
        downsample48to24StopbandDb: round(
          aliasRejectionDb(naiveOneShot, 48_000, 24_000, 12_000, 23_990, 200),
        ),
        passbandRippleDb: round(naiveRipple, 4),
      },
      ...(await frameClockJitter(3_000)),
    };
  },
};
