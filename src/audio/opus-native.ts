import { createRequire } from "node:module";
import { frameSamples, type OpusBackend, type OpusCodec, type OpusPcmFormat } from "./opus-backend.ts";

/**
 * libopus as a native addon (@discordjs/opus, an optional dependency built from source by node-gyp
 * when no prebuilt binary can be fetched): encoding about 20 % and decoding about 15 % cheaper per
 * frame than the WebAssembly build (bench "audio": opusBuilds).
 */

interface AddonCodec {
  encode(pcm: Buffer): Buffer;
  /** Throws on a packet libopus rejects. */
  decode(packet: Buffer): Buffer;
  setBitrate(bitrate: number): void;
}

interface Addon {
  readonly OpusEncoder: new (rate: number, channels: number) => AddonCodec;
}

/** The addon, or why it could not be loaded (not installed, not built, wrong ABI). */
function loadAddon(): Addon | Error {
  try {
    return createRequire(import.meta.url)("@discordjs/opus") as Addon;
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

/** The addon takes only Buffers; the frame is copied into this one (no per-frame wrapper). */
class NativeCodec implements OpusCodec {
  readonly #codec: AddonCodec;
  readonly #channels: number;
  readonly #pcmBytes: Buffer;
  readonly #pcm: Int16Array;
  /** Byte view on the last frame decoded into: the decoder passes the same frame every time. */
  #frame: Int16Array | undefined;
  #frameBytes: Uint8Array = new Uint8Array(0);

  constructor(addon: Addon, format: OpusPcmFormat) {
    this.#codec = new addon.OpusEncoder(format.sampleRate, format.channels);
    this.#channels = format.channels;
    const samples = frameSamples(format);
    this.#pcmBytes = Buffer.alloc(samples * 2);
    this.#pcm = new Int16Array(this.#pcmBytes.buffer, this.#pcmBytes.byteOffset, samples);
  }

  setBitrate(bitrate: number): number {
    try {
      this.#codec.setBitrate(bitrate);
      return 0;
    } catch {
      return -1;
    }
  }

  decode(packet: Uint8Array, frame: Int16Array): number {
    let decoded: Buffer;
    try {
      decoded = this.#codec.decode(
        Buffer.isBuffer(packet) ? packet : Buffer.from(packet.buffer, packet.byteOffset, packet.length),
      );
    } catch {
      return -4;
    }
    if (decoded.length !== frame.length * 2) return -1;
    if (frame !== this.#frame) {
      this.#frame = frame;
      this.#frameBytes = new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength);
    }
    // The addon hands back a fresh Buffer per packet; a byte copy needs no aligned view on it.
    this.#frameBytes.set(decoded);
    return decoded.length / 2 / this.#channels;
  }

  encode(pcm: Int16Array): Buffer | number {
    this.#pcm.set(pcm);
    try {
      return this.#codec.encode(this.#pcmBytes);
    } catch {
      return -3;
    }
  }

  destroy(): void {
    // The addon frees libopus state when the object is collected; nothing is held here.
  }
}

/** The native backend, or the error that kept the addon from loading. */
export function loadNativeBackend(): OpusBackend | Error {
  const addon = loadAddon();
  if (addon instanceof Error) return addon;
  return {
    name: "native",
    description: "native libopus (@discordjs/opus)",
    create: (_owner, format) => new NativeCodec(addon, format),
  };
}
