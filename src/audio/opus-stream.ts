import { FRAME_SAMPLES_48K, FRAME_SAMPLES_48K_STEREO } from "./constants.ts";
import { OpusFrameEncoder } from "./opus.ts";
import { upmixMono } from "./pcm.ts";

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
 * A 48 kHz mono signal cut into 20 ms frames, each sent as stereo; a partial last frame is left
 * out. `skipFrames` drops a lead-in, `maxFrames` caps the length.
 */
export function encodeMonoSignal(
  samples: Int16Array,
  options: { readonly skipFrames?: number; readonly maxFrames?: number } = {},
): Buffer[] {
  const frames: Int16Array[] = [];
  const maxFrames = options.maxFrames ?? Number.POSITIVE_INFINITY;
  for (
    let at = (options.skipFrames ?? 0) * FRAME_SAMPLES_48K;
    at + FRAME_SAMPLES_48K <= samples.length && frames.length < maxFrames;
    at += FRAME_SAMPLES_48K
  ) {
    const stereo = new Int16Array(FRAME_SAMPLES_48K_STEREO);
    upmixMono(samples.subarray(at, at + FRAME_SAMPLES_48K), stereo);
    frames.push(stereo);
  }
  return encodeOpusStream(frames);
}
