import { createRequire } from "node:module";
import { DISCORD_CHANNELS } from "./constants.ts";
import {
  frameSamples,
  MAX_DECODED_SAMPLES_PER_CHANNEL,
  MAX_PACKET_BYTES,
  OPUS_APPLICATION_AUDIO,
  OPUS_SET_BITRATE,
  type OpusBackend,
  type OpusCodec,
  type OpusPcmFormat,
} from "./opus-backend.ts";

/*
 * opusscript's libopus (WebAssembly), the fallback when the native addon is not installed.
 *
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

interface WasmHandler {
  _encode(pcmPtr: number, pcmBytes: number, packetPtr: number, frameSize: number): number;
  _decode(packetPtr: number, packetBytes: number, pcmPtr: number): number;
  _encoder_ctl(ctl: number, arg: number): number;
}

interface WasmModule {
  readonly HEAPU8: Uint8Array;
  readonly HEAPU16: Uint16Array;
  _malloc(bytes: number): number;
  _free(pointer: number): void;
  readonly OpusScriptHandler: {
    new (sampleRate: number, channels: number, application: number): WasmHandler;
    destroy_handler(handler: WasmHandler): void;
  };
}

const require = createRequire(import.meta.url);
const instantiateWasm = require("opusscript/build/opusscript_native_wasm.js") as () => WasmModule;

const PCM_SCRATCH_BYTES = MAX_DECODED_SAMPLES_PER_CHANNEL * DISCORD_CHANNELS * 4;

/**
 * The module's heap is a fixed 16 MiB (no memory growth). One codec takes about 170 KiB (handler
 * with its encoder and decoder state, plus scratch), so a heap holds 64 with room to spare; beyond
 * that another module instance is created, and an emptied extra one is released.
 */
const CODECS_PER_HEAP = 64;

interface Heap {
  readonly wasm: WasmModule;
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
  const heap: Heap = { wasm: instantiateWasm(), live: 1 };
  heaps.push(heap);
  return heap;
}

function releaseHeap(heap: Heap): void {
  heap.live--;
  if (heap.live === 0 && heaps.length > 1) heaps.splice(heaps.indexOf(heap), 1);
}

/** One libopus handler and its scratch memory inside a module heap. */
class WasmCodec implements OpusCodec {
  readonly #wasm: WasmModule;
  readonly #handler: WasmHandler;
  readonly #pcmPtr: number;
  readonly #packetPtr: number;
  readonly #heap: Heap;
  readonly #format: OpusPcmFormat;
  #destroyed = false;

  constructor(owner: string, format: OpusPcmFormat) {
    this.#format = format;
    this.#heap = acquireHeap();
    this.#wasm = this.#heap.wasm;
    this.#handler = new this.#wasm.OpusScriptHandler(
      format.sampleRate,
      format.channels,
      OPUS_APPLICATION_AUDIO,
    );
    this.#pcmPtr = this.#wasm._malloc(PCM_SCRATCH_BYTES);
    this.#packetPtr = this.#wasm._malloc(MAX_PACKET_BYTES);
    if (this.#pcmPtr === 0 || this.#packetPtr === 0) {
      this.destroy();
      throw new Error(`${owner}: out of Opus codec memory`);
    }
  }

  setBitrate(bitrate: number): number {
    return this.#handler._encoder_ctl(OPUS_SET_BITRATE, bitrate);
  }

  decode(packet: Uint8Array, frame: Int16Array): number {
    if (frame.length !== frameSamples(this.#format)) return -1;
    const wasm = this.#wasm;
    wasm.HEAPU8.set(packet, this.#packetPtr);
    const decoded = this.#handler._decode(this.#packetPtr, packet.length, this.#pcmPtr);
    if (decoded * DISCORD_CHANNELS !== frame.length) return decoded < 0 ? decoded : -1;
    const heap = wasm.HEAPU16;
    let slot = this.#pcmPtr >> 1;
    for (let i = 0; i < frame.length; i++) {
      frame[i] = heap[slot]! | (heap[slot + 1]! << 8);
      slot += 2;
    }
    return decoded;
  }

  encode(pcm: Int16Array): Buffer | number {
    const wasm = this.#wasm;
    const heap = wasm.HEAPU16;
    const samples = pcm.length;
    let slot = this.#pcmPtr >> 1;
    for (let i = 0; i < samples; i++) {
      const sample = pcm[i]!;
      heap[slot] = sample & 0xff;
      heap[slot + 1] = (sample >> 8) & 0xff;
      slot += 2;
    }
    const length = this.#handler._encode(
      this.#pcmPtr,
      samples * 2,
      this.#packetPtr,
      samples / this.#format.channels,
    );
    if (length < 0) return length;
    return Buffer.from(wasm.HEAPU8.subarray(this.#packetPtr, this.#packetPtr + length));
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    if (this.#pcmPtr !== 0) this.#wasm._free(this.#pcmPtr);
    if (this.#packetPtr !== 0) this.#wasm._free(this.#packetPtr);
    this.#wasm.OpusScriptHandler.destroy_handler(this.#handler);
    releaseHeap(this.#heap);
  }
}

export const wasmBackend: OpusBackend = {
  name: "opusscript",
  description: "opusscript (libopus compiled to WebAssembly)",
  create: (owner, format) => new WasmCodec(owner, format),
};
