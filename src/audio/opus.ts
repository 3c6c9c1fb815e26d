import { createRequire } from "node:module";
import {
  DISCORD_CHANNELS,
  DISCORD_SAMPLE_RATE,
  FRAME_SAMPLES_48K,
  FRAME_SAMPLES_48K_STEREO,
} from "./constants.ts";

/*
 * Why not `new OpusScript(...)` from opusscript's index.js: it views its malloc'd buffers through
 * `HEAPU16.subarray(pointer, ...)`, i.e. at byte address 2 * pointer, outside the allocation. With a
 * few dozen instances those views land on other instances' codec state and libopus aborts the whole
 * WebAssembly module (reproduced with 40 decoders). We drive the same compiled libopus through its
 * handler with buffers we allocate correctly.
 *
 * The handler's C side exchanges PCM as one byte per 16-bit heap slot (low byte, then high byte):
 * `_encode` compacts that layout in place before opus_encode, `_decode` expands opus_decode's output
 * into it. Scratch PCM space is therefore 4 bytes per sample.
 */

interface NativeHandler {
  _encode(pcmPtr: number, pcmBytes: number, packetPtr: number, frameSize: number): number;
  _decode(packetPtr: number, packetBytes: number, pcmPtr: number): number;
  _encoder_ctl(ctl: number, arg: number): number;
}

interface NativeModule {
  readonly HEAPU8: Uint8Array;
  readonly HEAPU16: Uint16Array;
  _malloc(bytes: number): number;
  _free(pointer: number): void;
  readonly OpusScriptHandler: {
    new (sampleRate: number, channels: number, application: number): NativeHandler;
    destroy_handler(handler: NativeHandler): void;
  };
}

const require = createRequire(import.meta.url);
const instantiateNative = require("opusscript/build/opusscript_native_wasm.js") as () => NativeModule;

/**
 * AUDIO rather than VOIP: what we encode is the model's synthesized voice, already clean and
 * band-limited to 12 kHz, sent at Discord's 64 kbps. VOIP's speech pre-processing (high-pass,
 * SILK-leaning mode decisions) is built for noisy microphones and costs fidelity here; AUDIO keeps
 * the waveform closer (measured in the round-trip test). Decoding does not depend on it.
 */
const OPUS_APPLICATION_AUDIO = 2049;
const OPUS_SET_BITRATE = 4002;
const OPUS_ERRORS: Readonly<Record<number, string>> = {
  [-1]: "bad argument",
  [-2]: "buffer too small",
  [-3]: "internal error",
  [-4]: "invalid packet",
  [-5]: "unimplemented",
  [-6]: "invalid state",
  [-7]: "memory allocation failed",
};

/** The handler's decode limit is 120 ms per packet; its largest legal packet is 3 * 1276 bytes. */
const MAX_DECODED_SAMPLES_PER_CHANNEL = 5760;
const MAX_PACKET_BYTES = 3 * 1276;
const PCM_SCRATCH_BYTES = MAX_DECODED_SAMPLES_PER_CHANNEL * DISCORD_CHANNELS * 4;

/**
 * The module's heap is a fixed 16 MiB (no memory growth). One codec takes about 170 KiB (handler
 * with its encoder and decoder state, plus scratch), so a heap holds 64 with room to spare; beyond
 * that another module instance is created, and an emptied extra one is released.
 */
const CODECS_PER_HEAP = 64;

interface Heap {
  readonly native: NativeModule;
  live: number;
}

const heaps: Heap[] = [];

function acquireHeap(): Heap {
  for (const heap of heaps) {
    if (heap.live < CODECS_PER_HEAP) {
      heap.live++;
      return heap;
    }
  }
  const heap: Heap = { native: instantiateNative(), live: 1 };
  heaps.push(heap);
  return heap;
}

function releaseHeap(heap: Heap): void {
  heap.live--;
  if (heap.live === 0 && heaps.length > 1) heaps.splice(heaps.indexOf(heap), 1);
}

/** One libopus handler and its scratch memory inside a module heap. */
class NativeCodec {
  readonly native: NativeModule;
  readonly handler: NativeHandler;
  readonly pcmPtr: number;
  readonly packetPtr: number;
  readonly #owner: string;
  readonly #heap: Heap;
  #destroyed = false;

  constructor(owner: string) {
    this.#owner = owner;
    this.#heap = acquireHeap();
    this.native = this.#heap.native;
    this.handler = new this.native.OpusScriptHandler(
      DISCORD_SAMPLE_RATE,
      DISCORD_CHANNELS,
      OPUS_APPLICATION_AUDIO,
    );
    this.pcmPtr = this.native._malloc(PCM_SCRATCH_BYTES);
    this.packetPtr = this.native._malloc(MAX_PACKET_BYTES);
    if (this.pcmPtr === 0 || this.packetPtr === 0) {
      this.destroy();
      throw new Error(`${owner}: out of Opus codec memory`);
    }
  }

  assertLive(): void {
    if (this.#destroyed) throw new Error(`${this.#owner} used after destroy()`);
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    if (this.pcmPtr !== 0) this.native._free(this.pcmPtr);
    if (this.packetPtr !== 0) this.native._free(this.packetPtr);
    this.native.OpusScriptHandler.destroy_handler(this.handler);
    releaseHeap(this.#heap);
  }
}

/**
 * Decodes Discord's 48 kHz stereo 20 ms Opus packets. Keep one per speaker (Opus is stateful) and
 * call destroy() when the speaker goes: the codec lives in WebAssembly memory the GC cannot see.
 */
export class OpusFrameDecoder {
  readonly #codec = new NativeCodec("OpusFrameDecoder");
  readonly #frame = new Int16Array(FRAME_SAMPLES_48K_STEREO);
  #errorCount = 0;

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
    const codec = this.#codec;
    codec.assertLive();
    const length = packet.length;
    if (length > MAX_PACKET_BYTES || packetDuration48k(packet) !== FRAME_SAMPLES_48K) return this.#silence();
    const native = codec.native;
    native.HEAPU8.set(packet, codec.packetPtr);
    const decoded = codec.handler._decode(codec.packetPtr, length, codec.pcmPtr);
    if (decoded !== FRAME_SAMPLES_48K) return this.#silence();
    const heap = native.HEAPU16;
    const frame = this.#frame;
    let slot = codec.pcmPtr >> 1;
    for (let i = 0; i < FRAME_SAMPLES_48K_STEREO; i++) {
      frame[i] = heap[slot]! | (heap[slot + 1]! << 8);
      slot += 2;
    }
    return frame;
  }

  destroy(): void {
    this.#codec.destroy();
  }

  #silence(): Int16Array {
    this.#errorCount++;
    this.#frame.fill(0);
    return this.#frame;
  }
}

export interface OpusEncoderOptions {
  /** Bits per second; Discord's default voice channel bitrate is 64 kbps. */
  readonly bitrate?: number;
}

const DEFAULT_BITRATE = 64_000;
const MIN_BITRATE = 6_000;
const MAX_BITRATE = 510_000;

/**
 * Encodes 48 kHz stereo 20 ms frames into Opus packets. Stateful: one per output stream;
 * destroy() frees its WebAssembly memory.
 */
export class OpusFrameEncoder {
  readonly #codec: NativeCodec;

  constructor(options: OpusEncoderOptions = {}) {
    const bitrate = options.bitrate ?? DEFAULT_BITRATE;
    if (!Number.isInteger(bitrate) || bitrate < MIN_BITRATE || bitrate > MAX_BITRATE) {
      throw new RangeError(
        `Opus bitrate must be an integer from ${MIN_BITRATE} to ${MAX_BITRATE}, got ${bitrate}`,
      );
    }
    this.#codec = new NativeCodec("OpusFrameEncoder");
    const status = this.#codec.handler._encoder_ctl(OPUS_SET_BITRATE, bitrate);
    if (status < 0) {
      this.#codec.destroy();
      throw new Error(`Opus encoder rejected bitrate ${bitrate}: ${describeOpusError(status)}`);
    }
  }

  /** Encodes one frame of 1920 interleaved stereo samples; returns a packet the caller owns. */
  encode(pcm: Int16Array): Buffer {
    const codec = this.#codec;
    codec.assertLive();
    if (pcm.length !== FRAME_SAMPLES_48K_STEREO) {
      throw new RangeError(
        `OpusFrameEncoder.encode needs ${FRAME_SAMPLES_48K_STEREO} interleaved samples, got ${pcm.length}`,
      );
    }
    const native = codec.native;
    const heap = native.HEAPU16;
    let slot = codec.pcmPtr >> 1;
    for (let i = 0; i < FRAME_SAMPLES_48K_STEREO; i++) {
      const sample = pcm[i]!;
      heap[slot] = sample & 0xff;
      heap[slot + 1] = (sample >> 8) & 0xff;
      slot += 2;
    }
    const length = codec.handler._encode(
      codec.pcmPtr,
      FRAME_SAMPLES_48K_STEREO * 2,
      codec.packetPtr,
      FRAME_SAMPLES_48K,
    );
    if (length < 0) throw new Error(`Opus encode failed: ${describeOpusError(length)}`);
    return Buffer.from(native.HEAPU8.subarray(codec.packetPtr, codec.packetPtr + length));
  }

  destroy(): void {
    this.#codec.destroy();
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
