import { FRAME_SAMPLES_48K, FRAME_SAMPLES_48K_STEREO } from "./constants.ts";
import {
  DISCORD_PCM,
  frameSamples,
  MAX_PACKET_BYTES,
  type OpusBackend,
  type OpusBackendName,
  type OpusCodec,
  type OpusPcmFormat,
} from "./opus-backend.ts";
import { opusBackend, opusCodec } from "./opus-codec.ts";

/*
 * The bot's Opus frames: 48 kHz stereo, 20 ms, over whichever libopus the process runs
 * (src/audio/opus-codec.ts). Validation and error counting live here, so both builds behave alike.
 */

const OPUS_ERRORS: Readonly<Record<number, string>> = {
  [-1]: "bad argument",
  [-2]: "buffer too small",
  [-3]: "internal error",
  [-4]: "invalid packet",
  [-5]: "unimplemented",
  [-6]: "invalid state",
  [-7]: "memory allocation failed",
};

export interface OpusCodecOptions {
  /** Which libopus; default the process's choice (OPUS_CODEC). */
  readonly codec?: OpusBackendName;
}

function backendFor(options: OpusCodecOptions): OpusBackend {
  return options.codec === undefined ? opusCodec().backend : opusBackend(options.codec);
}

/** A codec that refuses use after destroy() (the WebAssembly one would corrupt a shared heap). */
class LiveCodec {
  readonly codec: OpusCodec;
  readonly #owner: string;
  #destroyed = false;

  constructor(backend: OpusBackend, owner: string, format: OpusPcmFormat) {
    this.#owner = owner;
    this.codec = backend.create(owner, format);
  }

  assertLive(): void {
    if (this.#destroyed) throw new Error(`${this.#owner} used after destroy()`);
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.codec.destroy();
  }
}

/**
 * Decodes Discord's 48 kHz stereo 20 ms Opus packets. Keep one per speaker (Opus is stateful) and
 * call destroy() when the speaker goes: the WebAssembly codec lives in memory the GC cannot see.
 */
export class OpusFrameDecoder {
  readonly codecName: OpusBackendName;
  readonly #live: LiveCodec;
  readonly #frame = new Int16Array(FRAME_SAMPLES_48K_STEREO);
  #errorCount = 0;

  constructor(options: OpusCodecOptions = {}) {
    const backend = backendFor(options);
    this.codecName = backend.name;
    this.#live = new LiveCodec(backend, "OpusFrameDecoder", DISCORD_PCM);
  }

  /** Packets that could not be decoded into one 20 ms frame (each yielded a frame of silence). */
  get errors(): number {
    return this.#errorCount;
  }

  /**
   * Returns 1920 interleaved stereo samples: a view into a reused buffer, valid until the next call.
   * A corrupt, empty, truncated or not-20-ms packet yields silence and counts an error; it never throws.
   * (Corruption libopus cannot detect decodes as noise for that frame.)
   */
  decode(packet: Uint8Array): Int16Array {
    this.#live.assertLive();
    if (packet.length > MAX_PACKET_BYTES || packetDuration48k(packet) !== FRAME_SAMPLES_48K)
      return this.#silence();
    if (this.#live.codec.decode(packet, this.#frame) !== FRAME_SAMPLES_48K) return this.#silence();
    return this.#frame;
  }

  destroy(): void {
    this.#live.destroy();
  }

  #silence(): Int16Array {
    this.#errorCount++;
    this.#frame.fill(0);
    return this.#frame;
  }
}

export interface OpusEncoderOptions extends OpusCodecOptions {
  /** Bits per second; Discord's default voice channel bitrate is 64 kbps. */
  readonly bitrate?: number;
  /** What encode() takes; default Discord's 48 kHz stereo. */
  readonly input?: OpusPcmFormat;
}

const DEFAULT_BITRATE = 64_000;
const MIN_BITRATE = 6_000;
const MAX_BITRATE = 510_000;

/**
 * Encodes 20 ms frames (48 kHz stereo unless told otherwise) into Opus packets that Discord's
 * 48 kHz stereo decoders play. Stateful: one per output stream; destroy() frees its codec memory.
 */
export class OpusFrameEncoder {
  readonly codecName: OpusBackendName;
  /** Samples (all channels) encode() takes. */
  readonly frameSamples: number;
  readonly #live: LiveCodec;

  constructor(options: OpusEncoderOptions = {}) {
    const bitrate = options.bitrate ?? DEFAULT_BITRATE;
    if (!Number.isInteger(bitrate) || bitrate < MIN_BITRATE || bitrate > MAX_BITRATE) {
      throw new RangeError(
        `Opus bitrate must be an integer from ${MIN_BITRATE} to ${MAX_BITRATE}, got ${bitrate}`,
      );
    }
    const backend = backendFor(options);
    this.codecName = backend.name;
    const input = options.input ?? DISCORD_PCM;
    this.frameSamples = frameSamples(input);
    this.#live = new LiveCodec(backend, "OpusFrameEncoder", input);
    const status = this.#live.codec.setBitrate(bitrate);
    if (status < 0) {
      this.#live.destroy();
      throw new Error(`Opus encoder rejected bitrate ${bitrate}: ${describeOpusError(status)}`);
    }
  }

  /** Encodes one frame (`frameSamples` samples, interleaved if stereo); returns a packet the caller owns. */
  encode(pcm: Int16Array): Buffer {
    this.#live.assertLive();
    if (pcm.length !== this.frameSamples) {
      throw new RangeError(
        `OpusFrameEncoder.encode needs ${this.frameSamples} interleaved samples, got ${pcm.length}`,
      );
    }
    const packet = this.#live.codec.encode(pcm);
    if (typeof packet === "number") throw new Error(`Opus encode failed: ${describeOpusError(packet)}`);
    return packet;
  }

  destroy(): void {
    this.#live.destroy();
  }
}

/** Samples per frame at 48 kHz for each TOC configuration (RFC 6716, 3.1): SILK, hybrid, CELT. */
const FRAME_SAMPLES_BY_CONFIG = Int16Array.from({ length: 32 }, (_, config) => {
  if (config < 12) return [480, 960, 1920, 2880][config % 4]!;
  if (config < 16) return [480, 960][config % 2]!;
  return [120, 240, 480, 960][config % 4]!;
});

/**
 * A packet's duration in 48 kHz samples per channel from its TOC byte and frame count, or 0 if it
 * has none. Checked before libopus sees the packet: only 20 ms packets are decoded, because this
 * WebAssembly build overflows its stack and corrupts its heap on some 60-120 ms packets of garbage
 * (reproduced with random bytes); it also keeps an empty packet from turning into 120 ms of
 * packet-loss concealment.
 */
function packetDuration48k(packet: Uint8Array): number {
  if (packet.length === 0) return 0;
  const toc = packet[0]!;
  const code = toc & 0x03;
  let frames: number;
  if (code === 0) frames = 1;
  else if (code !== 3) frames = 2;
  else if (packet.length < 2) return 0;
  else frames = packet[1]! & 0x3f;
  return frames * FRAME_SAMPLES_BY_CONFIG[toc >> 3]!;
}

function describeOpusError(code: number): string {
  return OPUS_ERRORS[code] ?? `error ${code}`;
}
