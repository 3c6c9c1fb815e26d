import { designKaiserLowpass } from "./fir.ts";
import { saturate16 } from "./pcm.ts";

/**
 * Streaming mono PCM16 resamplers. Each keeps its filter history and phase between calls, so
 * feeding a signal in pieces of any size gives exactly the samples one call on the whole would.
 * The filters are linear phase (constant group delay, no phase distortion of speech).
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

/** The work buffer with room for `needed` samples, its first `history` samples kept. */
function workWithRoom(work: Float64Array, history: number, needed: number): Float64Array {
  if (work.length >= needed) return work;
  const grown = new Float64Array(Math.max(needed, 2 * work.length));
  grown.set(work.subarray(0, history));
  return grown;
}

function outputWithRoom(output: Int16Array, needed: number): Int16Array {
  return output.length >= needed ? output : new Int16Array(Math.max(needed, 2 * output.length));
}

/** The first `count` samples of `output`, reusing `view` when it already is that (no allocation). */
function leadingView(view: Int16Array, output: Int16Array, count: number): Int16Array {
  return view.length === count && view.buffer === output.buffer ? view : output.subarray(0, count);
}

/** Anti-aliased decimation by an integer factor with a symmetric FIR. */
class FirDecimator implements StreamResampler {
  readonly inputRate: number;
  readonly outputRate: number;
  readonly delayMs: number;
  readonly #taps: Float64Array;
  readonly #factor: number;
  readonly #historyLength: number;
  #work: Float64Array;
  #output: Int16Array;
  #view: Int16Array;
  /** Index, in the next input, of the sample the next output is aligned to. */
  #nextOutput = 0;

  constructor(taps: Float64Array, inputRate: number, factor: number) {
    this.#taps = taps;
    this.#factor = factor;
    this.inputRate = inputRate;
    this.outputRate = inputRate / factor;
    this.delayMs = delayMsOf(taps, inputRate);
    this.#historyLength = taps.length - 1;
    this.#work = new Float64Array(this.#historyLength + 960);
    this.#output = new Int16Array(Math.ceil(960 / factor));
    this.#view = this.#output.subarray(0, 0);
  }

  process(input: Int16Array): Int16Array {
    const length = input.length;
    const history = this.#historyLength;
    this.#work = workWithRoom(this.#work, history, history + length);
    this.#output = outputWithRoom(this.#output, Math.ceil(length / this.#factor));
    const work = this.#work;
    const output = this.#output;
    const taps = this.#taps;
    const last = taps.length - 1;
    const pairs = taps.length >> 1;
    const middle = taps.length & 1 ? taps[pairs]! : 0;
    for (let i = 0; i < length; i++) work[history + i] = input[i]!;

    let count = 0;
    let start = this.#nextOutput;
    // The window for the output aligned to input sample p is work[p .. p + last].
    for (; start < length; start += this.#factor) {
      let acc = middle * work[start + pairs]!;
      for (let k = 0; k < pairs; k++) acc += taps[k]! * (work[start + last - k]! + work[start + k]!);
      output[count++] = saturate16(acc);
    }
    this.#nextOutput = start - length;
    work.copyWithin(0, length, length + history);
    this.#view = leadingView(this.#view, output, count);
    return this.#view;
  }

  reset(): void {
    this.#work.fill(0);
    this.#nextOutput = 0;
  }
}

/**
 * 24 kHz -> 48 kHz mono (Voice Live's voice to Discord's rate): a two-phase polyphase FIR, so each
 * input sample yields exactly two output samples and any input length is accepted.
 */
export class Upsampler24to48 implements StreamResampler {
  readonly inputRate = 24_000;
  readonly outputRate = 48_000;
  readonly delayMs = delayMsOf(HALF_RATE_TAPS, 48_000);
  /** Each phase's taps, times 2 (zero stuffing halves the gain), oldest-sample-first. */
  readonly #evenPhase: Float64Array;
  readonly #oddPhase: Float64Array;
  readonly #historyLength: number;
  #work: Float64Array;
  #output: Int16Array;
  #view: Int16Array;

  constructor() {
    const phaseLength = HALF_RATE_TAPS.length / 2;
    this.#evenPhase = new Float64Array(phaseLength);
    this.#oddPhase = new Float64Array(phaseLength);
    for (let j = 0; j < phaseLength; j++) {
      this.#evenPhase[phaseLength - 1 - j] = 2 * HALF_RATE_TAPS[2 * j]!;
      this.#oddPhase[phaseLength - 1 - j] = 2 * HALF_RATE_TAPS[2 * j + 1]!;
    }
    this.#historyLength = phaseLength - 1;
    this.#work = new Float64Array(this.#historyLength + 480);
    this.#output = new Int16Array(960);
    this.#view = this.#output.subarray(0, 0);
  }

  /** Returns 2 * input.length samples at 48 kHz: a view on a reused buffer, valid until the next call. */
  process(input: Int16Array): Int16Array {
    const length = input.length;
    const history = this.#historyLength;
    this.#work = workWithRoom(this.#work, history, history + length);
    this.#output = outputWithRoom(this.#output, 2 * length);
    const work = this.#work;
    const output = this.#output;
    const even = this.#evenPhase;
    const odd = this.#oddPhase;
    const phaseLength = even.length;
    for (let i = 0; i < length; i++) work[history + i] = input[i]!;

    for (let i = 0; i < length; i++) {
      let accEven = 0;
      let accOdd = 0;
      for (let j = 0; j < phaseLength; j++) {
        const sample = work[i + j]!;
        accEven += even[j]! * sample;
        accOdd += odd[j]! * sample;
      }
      output[2 * i] = saturate16(accEven);
      output[2 * i + 1] = saturate16(accOdd);
    }
    work.copyWithin(0, length, length + history);
    this.#view = leadingView(this.#view, output, 2 * length);
    return this.#view;
  }

  reset(): void {
    this.#work.fill(0);
  }
}

/** Discord's 48 kHz mono (after downmix) to Voice Live's input rate, anti-aliased. */
export function createInputResampler(toRate: 24_000 | 16_000): StreamResampler {
  if (toRate === 24_000) return new FirDecimator(HALF_RATE_TAPS, 48_000, 2);
  if (toRate === 16_000) return new FirDecimator(THIRD_RATE_TAPS, 48_000, 3);
  throw new RangeError(`No input resampler from 48000 Hz to ${String(toRate)} Hz (24000 or 16000)`);
}
