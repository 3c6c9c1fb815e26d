import { designKaiserLowpass } from "./fir.ts";
import { FIR_SIMD_WASM_BASE64 } from "./fir-simd-wasm.ts";

/**
 * Streaming mono PCM16 resamplers from Discord's 48 kHz down to Voice Live's input rate (the output
 * side needs none: the bot's voice is encoded at 24 kHz, see output-encoder.ts). Each keeps its
 * filter history and phase between calls, so feeding a signal in pieces of any size gives exactly
 * the samples one call on the whole would. The filters are linear phase (constant group delay, no
 * phase distortion of speech).
 */
export interface StreamResampler {
  readonly inputRate: number;
  readonly outputRate: number;
  /** Constant delay the filter adds, in milliseconds. */
  readonly delayMs: number;
  /** Returns a view on a reused buffer, valid until the next call. */
  process(input: Int16Array): Int16Array;
  /** Forgets history and phase, as if newly made. */
  reset(): void;
}

/*
 * Passband: flat up to 0.8 of the lower Nyquist rate. Stopband: from that Nyquist rate up, so
 * nothing folds (or images) anywhere, not even into the transition band. Designed for 70 dB to keep
 * a margin over the 60 dB required once the output is rounded to 16 bits.
 */
const PASSBAND_FRACTION = 0.8;
const DESIGN_ATTENUATION_DB = 70;

function lowpassFor(sampleRate: number, lowerRate: number, lengthMultipleOf: number): Float64Array {
  const nyquist = lowerRate / 2;
  return designKaiserLowpass({
    sampleRate,
    passbandHz: nyquist * PASSBAND_FRACTION,
    stopbandHz: nyquist,
    attenuationDb: DESIGN_ATTENUATION_DB,
    lengthMultipleOf,
  });
}

const HALF_RATE_TAPS = lowpassFor(48_000, 24_000, 2);
const THIRD_RATE_TAPS = lowpassFor(48_000, 16_000, 1);

function delayMsOf(taps: Float64Array, sampleRate: number): number {
  return ((taps.length - 1) / 2 / sampleRate) * 1000;
}

function outputWithRoom(output: Int16Array, needed: number): Int16Array {
  return output.length >= needed ? output : new Int16Array(Math.max(needed, 2 * output.length));
}

/** The first `count` samples of `output`, reusing `view` when it already is that (no allocation). */
function leadingView(view: Int16Array, output: Int16Array, count: number): Int16Array {
  return view.length === count && view.buffer === output.buffer ? view : output.subarray(0, count);
}

/*
 * The decimators' multiply-accumulate runs in WebAssembly SIMD (src/audio/fir-simd.wat), four
 * float32 taps at a time: several times faster than the same loop in JavaScript doubles, and
 * float32 is ample for 16-bit audio (its rounding error is 120 dB below full scale). One instance
 * per thread serves every decimator: each call copies its filter history into the shared work
 * area, so a decimator holds no WebAssembly memory and needs no destroy().
 */
interface FirKernel {
  readonly memory: { readonly buffer: ArrayBuffer };
  decimate(
    taps: number,
    taps4: number,
    work: number,
    start: number,
    step: number,
    count: number,
    out: number,
  ): void;
}

/** The slice of the WebAssembly global used here (this project's TypeScript libs do not declare it). */
interface WebAssemblyApi {
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (module: object) => { readonly exports: unknown };
}

const { Module, Instance } = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;
const kernel = new Instance(new Module(Buffer.from(FIR_SIMD_WASM_BASE64, "base64"))).exports as FirKernel;
const heapF32 = new Float32Array(kernel.memory.buffer);
const heapI16 = new Int16Array(kernel.memory.buffer);

/** Byte layout of the kernel's one 64 KiB page: the filters, then the work area, then the output. */
const TAPS_AREA = 0;
const TAPS_AREA_BYTES = 2048;
const WORK_AREA = TAPS_AREA_BYTES;
/** Input samples per kernel call; longer inputs go through in blocks. */
const BLOCK = 8192;
const MAX_HISTORY = 255;
/** Zeros after the work area: a window's padded tail may read up to 3 samples past it. */
const GUARD_BYTES = 64;
const OUT_AREA = WORK_AREA + (MAX_HISTORY + BLOCK) * 4 + GUARD_BYTES;

let tapsAreaUsed = 0;

/** Copies a filter into the kernel's memory, zero-padded to whole vectors; returns its address. */
function placeTaps(taps: Float64Array): number {
  const padded = Math.ceil(taps.length / 4) * 4;
  const address = TAPS_AREA + tapsAreaUsed;
  if (taps.length - 1 > MAX_HISTORY || tapsAreaUsed + padded * 4 > TAPS_AREA_BYTES) {
    throw new RangeError(`FIR of ${taps.length} taps does not fit the SIMD kernel`);
  }
  heapF32.set(taps, address / 4);
  tapsAreaUsed += padded * 4;
  return address;
}

/** Anti-aliased decimation by an integer factor with a symmetric FIR. */
class FirDecimator implements StreamResampler {
  readonly inputRate: number;
  readonly outputRate: number;
  readonly delayMs: number;
  readonly #tapsAddress: number;
  readonly #taps4: number;
  readonly #factor: number;
  /** The last taps - 1 input samples, oldest first. */
  readonly #history: Float32Array;
  #output: Int16Array;
  #view: Int16Array;
  /** Index, in the next input, of the sample the next output is aligned to. */
  #nextOutput = 0;

  constructor(filter: PlacedFilter, inputRate: number, factor: number) {
    this.#tapsAddress = filter.address;
    this.#taps4 = Math.ceil(filter.taps.length / 4);
    this.#factor = factor;
    this.inputRate = inputRate;
    this.outputRate = inputRate / factor;
    this.delayMs = delayMsOf(filter.taps, inputRate);
    this.#history = new Float32Array(filter.taps.length - 1);
    this.#output = new Int16Array(Math.ceil(960 / factor));
    this.#view = this.#output.subarray(0, 0);
  }

  process(input: Int16Array): Int16Array {
    const length = input.length;
    const history = this.#history;
    const historyLength = history.length;
    const factor = this.#factor;
    this.#output = outputWithRoom(this.#output, Math.ceil(length / factor));
    const output = this.#output;
    const workIndex = WORK_AREA / 4;
    let count = 0;
    for (let done = 0; done < length; done += BLOCK) {
      const block = Math.min(BLOCK, length - done);
      heapF32.set(history, workIndex);
      for (let i = 0; i < block; i++) heapF32[workIndex + historyLength + i] = input[done + i]!;
      // The window for the output aligned to block sample p is work[p .. p + taps - 1].
      const start = this.#nextOutput;
      const outputs = start < block ? Math.ceil((block - start) / factor) : 0;
      kernel.decimate(this.#tapsAddress, this.#taps4, WORK_AREA, start, factor, outputs, OUT_AREA);
      // Index loops rather than set(subarray()): no view objects per frame.
      for (let n = 0, from = OUT_AREA / 2; n < outputs; n++) output[count + n] = heapI16[from + n]!;
      count += outputs;
      this.#nextOutput = start + outputs * factor - block;
      for (let i = 0, from = workIndex + block; i < historyLength; i++) history[i] = heapF32[from + i]!;
    }
    this.#view = leadingView(this.#view, output, count);
    return this.#view;
  }

  reset(): void {
    this.#history.fill(0);
    this.#nextOutput = 0;
  }
}

interface PlacedFilter {
  readonly taps: Float64Array;
  readonly address: number;
}

const halfRateFilter: PlacedFilter = { taps: HALF_RATE_TAPS, address: placeTaps(HALF_RATE_TAPS) };
const thirdRateFilter: PlacedFilter = { taps: THIRD_RATE_TAPS, address: placeTaps(THIRD_RATE_TAPS) };

/** Discord's 48 kHz mono (after downmix) to Voice Live's input rate, anti-aliased. */
export function createInputResampler(toRate: 24_000 | 16_000): StreamResampler {
  if (toRate === 24_000) return new FirDecimator(halfRateFilter, 48_000, 2);
  if (toRate === 16_000) return new FirDecimator(thirdRateFilter, 48_000, 3);
  throw new RangeError(`No input resampler from 48000 Hz to ${String(toRate)} Hz (24000 or 16000)`);
}
