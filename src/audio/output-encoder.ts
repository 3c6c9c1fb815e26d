import { FRAME_SAMPLES_48K_STEREO } from "./constants.ts";
import { OpusFrameEncoder } from "./opus.ts";
import { applyGain, upmixMono } from "./pcm.ts";
import { Upsampler24to48 } from "./resample.ts";

/**
 * The bot's output codec path for one stream: 20 ms of Voice Live's 24 kHz mono PCM -> 48 kHz
 * stereo -> volume -> Opus. Stateful (filter history, Opus state): one per output stream.
 */
export class Mono24kOpusEncoder {
  readonly #upsampler = new Upsampler24to48();
  readonly #stereo = new Int16Array(FRAME_SAMPLES_48K_STEREO);
  readonly #opus = new OpusFrameEncoder();

  /** `pcm24k` is 480 samples (20 ms); `gain` 1 leaves the volume unchanged. Returns a new packet. */
  encode(pcm24k: Int16Array, gain: number): Buffer {
    upmixMono(this.#upsampler.process(pcm24k), this.#stereo);
    if (gain !== 1) applyGain(this.#stereo, gain);
    return this.#opus.encode(this.#stereo);
  }

  /** Forgets the resampler's history: the next frame starts a new, unrelated signal. */
  reset(): void {
    this.#upsampler.reset();
  }

  destroy(): void {
    this.#opus.destroy();
  }
}

/** Receives an output encoder's packets, in the order their frames were given. */
export interface OutputEncoderSink {
  packet(packet: Buffer): void;
  /** Frames given that will never come back (a worker failed); counted, never retried. */
  lost(frames: number): void;
}

/**
 * Encodes a stream of 20 ms 24 kHz mono frames, synchronously or on another thread: packets reach
 * the sink in order, possibly before encode() returns.
 */
export interface OutputEncoder {
  /** The frame is copied (or encoded) before this returns; the caller may reuse it. */
  encode(pcm24k: Int16Array, gain: number): void;
  /** Frames not yet delivered are dropped silently, and the next frame starts a new signal. */
  reset(): void;
  destroy(): void;
}

/** Encodes on the calling thread: each packet reaches the sink before encode() returns. */
export class InlineOutputEncoder implements OutputEncoder {
  readonly #sink: OutputEncoderSink;
  readonly #encoder = new Mono24kOpusEncoder();

  constructor(sink: OutputEncoderSink) {
    this.#sink = sink;
  }

  encode(pcm24k: Int16Array, gain: number): void {
    this.#sink.packet(this.#encoder.encode(pcm24k, gain));
  }

  reset(): void {
    this.#encoder.reset();
  }

  destroy(): void {
    this.#encoder.destroy();
  }
}
