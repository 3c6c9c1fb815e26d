import { FRAME_SAMPLES_48K } from "./constants.ts";
import { OpusFrameEncoder } from "./opus.ts";

/**
 * Whole recordings to Opus packets, as one stream each (one encoder, so the packets decode as a
 * continuous signal): what the loopback world, the simulator and the benchmarks send as speech.
 */

/** 20 ms frames of 48 kHz interleaved stereo to one packet each. */
export function encodeOpusStream(frames: readonly Int16Array[]): Buffer[] {
  const encoder = new OpusFrameEncoder();
  try {
    return frames.map((frame) => Buffer.from(encoder.encode(frame)));
  } finally {
    encoder.destroy();
  }
}

/**
 * A 48 kHz mono signal as Discord's clients send a microphone: 20 ms mono Opus packets (a partial
 * last frame is left out). `skipFrames` drops a lead-in, `maxFrames` caps the length.
 */
export function encodeMonoSignal(
  samples: Int16Array,
  options: { readonly skipFrames?: number; readonly maxFrames?: number } = {},
): Buffer[] {
  const encoder = new OpusFrameEncoder({ input: { sampleRate: 48_000, channels: 1 } });
  const packets: Buffer[] = [];
  const maxFrames = options.maxFrames ?? Number.POSITIVE_INFINITY;
  try {
    for (
      let at = (options.skipFrames ?? 0) * FRAME_SAMPLES_48K;
      at + FRAME_SAMPLES_48K <= samples.length && packets.length < maxFrames;
      at += FRAME_SAMPLES_48K
    ) {
      packets.push(Buffer.from(encoder.encode(samples.subarray(at, at + FRAME_SAMPLES_48K))));
    }
  } finally {
    encoder.destroy();
  }
  return packets;
}
