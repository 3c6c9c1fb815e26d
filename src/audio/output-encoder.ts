import { FRAME_SAMPLES_24K, VOICE_LIVE_OUTPUT_RATE } from "./constants.ts";
import { OpusFrameEncoder } from "./opus.ts";
import { applyGain } from "./pcm.ts";

/**
 * The bot's output codec path for one stream: 20 ms of Voice Live's 24 kHz mono PCM -> volume ->
 * mono Opus, encoded at 24 kHz. Opus packets carry no sample rate, and Discord's 48 kHz stereo
 * decoders play mono packets on both channels (Discord's own clients send mono), so nothing is
 * lost: the voice has nothing above 12 kHz. Against upsampling to 48 kHz stereo first, it spares
 * the upsampler and half of libopus's work (bench "audio": outputEncodePerFrameUs).
 * Stateful (Opus state): one per output stream.
 */
export class Mono24kOpusEncoder {
  readonly #scaled = new Int16Array(FRAME_SAMPLES_24K);
  readonly #opus = new OpusFrameEncoder({ input: { sampleRate: VOICE_LIVE_OUTPUT_RATE, channels: 1 } });

  /** `pcm24k` is 480 samples (20 ms); `gain` 1 leaves the volume unchanged. Returns a new packet. */
  encode(pcm24k: Int16Array, gain: number): Buffer {
    if (gain === 1) return this.#opus.encode(pcm24k);
    this.#scaled.set(pcm24k);
    applyGain(this.#scaled, gain);
    return this.#opus.encode(this.#scaled);
  }

  /**
   * The next frame starts a new, unrelated signal. Opus carries its own history over, as it does
   * across a burst's silence frames; there is no filter state of ours left to forget.
   */
  reset(): void {}

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
