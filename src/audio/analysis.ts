/**
 * Signal generators and spectral measurements shared by the audio tests and the benchmark.
 * Everything is deterministic (seeded noise) so figures are reproducible run to run.
 */

export function sine(frequency: number, sampleRate: number, length: number, amplitude = 16_000): Int16Array {
  const out = new Int16Array(length);
  const step = (2 * Math.PI * frequency) / sampleRate;
  for (let n = 0; n < length; n++) out[n] = Math.round(amplitude * Math.sin(step * n));
  return out;
}

/** Linear chirp from `fromHz` to `toHz` over `length` samples. */
export function chirp(
  fromHz: number,
  toHz: number,
  sampleRate: number,
  length: number,
  amplitude = 16_000,
): Int16Array {
  const out = new Int16Array(length);
  const duration = length / sampleRate;
  const rate = (toHz - fromHz) / duration;
  for (let n = 0; n < length; n++) {
    const t = n / sampleRate;
    out[n] = Math.round(amplitude * Math.sin(2 * Math.PI * (fromHz * t + (rate * t * t) / 2)));
  }
  return out;
}

/** Mulberry32: a small, good-enough seeded PRNG returning [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function whiteNoise(length: number, seed: number, amplitude = 8_000): Int16Array {
  const random = seededRandom(seed);
  const out = new Int16Array(length);
  for (let n = 0; n < length; n++) out[n] = Math.round(amplitude * (2 * random() - 1));
  return out;
}

/**
 * Noise with energy only between `fromHz` and `toHz`: random phases on those FFT bins, inverse
 * transformed. `length` must be a power of two. Peak-normalised to `amplitude`.
 */
export function bandNoise(
  fromHz: number,
  toHz: number,
  sampleRate: number,
  length: number,
  seed: number,
  amplitude = 12_000,
): Int16Array {
  const random = seededRandom(seed);
  const re = new Float64Array(length);
  const im = new Float64Array(length);
  for (let bin = 1; bin < length / 2; bin++) {
    const frequency = (bin * sampleRate) / length;
    if (frequency < fromHz || frequency > toHz) continue;
    const phase = 2 * Math.PI * random();
    re[bin] = Math.cos(phase);
    im[bin] = Math.sin(phase);
    re[length - bin] = re[bin]!;
    im[length - bin] = -im[bin]!;
  }
  fft(re, im, true);
  let peak = 0;
  for (let n = 0; n < length; n++) peak = Math.max(peak, Math.abs(re[n]!));
  const out = new Int16Array(length);
  for (let n = 0; n < length; n++) out[n] = Math.round((re[n]! / peak) * amplitude);
  return out;
}

/** In-place iterative radix-2 FFT; `inverse` includes the 1/N scaling. */
export function fft(re: Float64Array, im: Float64Array, inverse = false): void {
  const n = re.length;
  if (n !== im.length || (n & (n - 1)) !== 0)
    throw new RangeError(`FFT length must be a power of two, got ${n}`);
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j]!, re[i]!];
      [im[i], im[j]] = [im[j]!, im[i]!];
    }
  }
  const sign = inverse ? 1 : -1;
  for (let size = 2; size <= n; size <<= 1) {
    const angle = (sign * 2 * Math.PI) / size;
    const half = size >> 1;
    for (let start = 0; start < n; start += size) {
      for (let k = 0; k < half; k++) {
        const wr = Math.cos(angle * k);
        const wi = Math.sin(angle * k);
        const a = start + k;
        const b = a + half;
        const tr = re[b]! * wr - im[b]! * wi;
        const ti = re[b]! * wi + im[b]! * wr;
        re[b] = re[a]! - tr;
        im[b] = im[a]! - ti;
        re[a] = re[a]! + tr;
        im[a] = im[a]! + ti;
      }
    }
  }
  if (inverse) {
    for (let i = 0; i < n; i++) {
      re[i] = re[i]! / n;
      im[i] = im[i]! / n;
    }
  }
}

/** 4-term Blackman-Harris: sidelobes below -92 dB, so a strong tone cannot mask a -70 dB one. */
function blackmanHarris(n: number, length: number): number {
  const x = (2 * Math.PI * n) / (length - 1);
  return 0.35875 - 0.48829 * Math.cos(x) + 0.14128 * Math.cos(2 * x) - 0.01168 * Math.cos(3 * x);
}

/**
 * Amplitude of the component at `frequency` (any frequency, not only FFT bins): a windowed DFT
 * at that one frequency, normalised so a sine of amplitude A reads A.
 */
export function toneAmplitude(signal: ArrayLike<number>, frequency: number, sampleRate: number): number {
  const length = signal.length;
  const step = (2 * Math.PI * frequency) / sampleRate;
  let re = 0;
  let im = 0;
  let windowSum = 0;
  for (let n = 0; n < length; n++) {
    const w = blackmanHarris(n, length);
    windowSum += w;
    re += w * signal[n]! * Math.cos(step * n);
    im -= w * signal[n]! * Math.sin(step * n);
  }
  return (2 * Math.hypot(re, im)) / windowSum;
}

/** Power spectrum (|X|^2 per bin, Blackman-Harris windowed) of the first power-of-two samples. */
export function powerSpectrum(signal: ArrayLike<number>): Float64Array {
  let length = 1;
  while (length * 2 <= signal.length) length *= 2;
  const re = new Float64Array(length);
  const im = new Float64Array(length);
  for (let n = 0; n < length; n++) re[n] = signal[n]! * blackmanHarris(n, length);
  fft(re, im);
  const power = new Float64Array(length / 2 + 1);
  for (let bin = 0; bin <= length / 2; bin++) power[bin] = re[bin]! * re[bin]! + im[bin]! * im[bin]!;
  return power;
}

/** Total power of the spectrum's bins between two frequencies. */
export function bandPower(power: Float64Array, sampleRate: number, fromHz: number, toHz: number): number {
  const binHz = sampleRate / (2 * (power.length - 1));
  let sum = 0;
  for (let bin = Math.ceil(fromHz / binHz); bin <= Math.floor(toHz / binHz) && bin < power.length; bin++) {
    sum += power[bin]!;
  }
  return sum;
}

export function db(ratio: number): number {
  return 20 * Math.log10(ratio);
}

export function powerDb(ratio: number): number {
  return 10 * Math.log10(ratio);
}

/** Frequencies from `from` to `to` inclusive, `count` points evenly spaced. */
export function frequencyGrid(from: number, to: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + ((to - from) * i) / (count - 1));
}

/** A resampling step under test: whole signal in, whole signal out. */
export type Resample = (input: Int16Array) => Int16Array;

/** Feeds `input` through a streaming resampler and collects every output sample. */
export function runStreaming(
  process: (chunk: Int16Array) => Int16Array,
  input: Int16Array,
  chunkSizes: readonly number[],
): Int16Array {
  const pieces: Int16Array[] = [];
  let offset = 0;
  for (let i = 0; offset < input.length; i++) {
    const size = chunkSizes[i % chunkSizes.length]!;
    pieces.push(process(input.subarray(offset, offset + size)).slice());
    offset += size;
  }
  const total = pieces.reduce((sum, piece) => sum + piece.length, 0);
  const out = new Int16Array(total);
  let at = 0;
  for (const piece of pieces) {
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}

/**
 * Gain (output tone amplitude / input tone amplitude) in dB across `frequencies`; `makeResampler`
 * gives a fresh resampler per tone. The filter's start-up transient is skipped.
 */
export function passbandGainsDb(
  makeResampler: () => Resample,
  inputRate: number,
  frequencies: readonly number[],
  amplitude = 16_000,
): number[] {
  const length = inputRate / 2;
  return frequencies.map((frequency) => {
    const input = sine(frequency, inputRate, length, amplitude);
    const output = makeResampler()(input);
    const outputRate = (inputRate * output.length) / input.length;
    const settled = output.subarray(Math.floor(output.length / 10));
    return db(toneAmplitude(settled, frequency, outputRate) / amplitude);
  });
}

export function rippleDb(gainsDb: readonly number[]): number {
  return Math.max(...gainsDb) - Math.min(...gainsDb);
}

/** Where a tone at `frequency` lands after sampling at `sampleRate` (folding about Nyquist). */
export function foldedFrequency(frequency: number, sampleRate: number): number {
  const wrapped = frequency % sampleRate;
  return wrapped <= sampleRate / 2 ? wrapped : sampleRate - wrapped;
}

/**
 * Worst-case alias rejection of a decimator, in dB (positive = attenuated): tones across
 * [fromHz, toHz] at the input rate, each measured where it folds to in the output.
 */
export function aliasRejectionDb(
  makeResampler: () => Resample,
  inputRate: number,
  outputRate: number,
  fromHz: number,
  toHz: number,
  points: number,
  amplitude = 16_000,
): number {
  return worstLeakDb(makeResampler, inputRate, fromHz, toHz, points, amplitude, (frequency) => [
    foldedFrequency(frequency, outputRate),
    outputRate,
  ]);
}

/**
 * Tones across [fromHz, toHz] through fresh resamplers; the loudest leak, measured where
 * `leakOf(frequency)` says it lands ([Hz, output rate]), in dB below the input amplitude.
 */
function worstLeakDb(
  makeResampler: () => Resample,
  inputRate: number,
  fromHz: number,
  toHz: number,
  points: number,
  amplitude: number,
  leakOf: (frequency: number) => readonly [number, number],
): number {
  let worst = 0;
  for (const frequency of frequencyGrid(fromHz, toHz, points)) {
    const output = makeResampler()(sine(frequency, inputRate, inputRate / 2, amplitude));
    const settled = output.subarray(Math.floor(output.length / 10));
    const [leakHz, outputRate] = leakOf(frequency);
    worst = Math.max(worst, toneAmplitude(settled, leakHz, outputRate));
  }
  return -db(worst / amplitude);
}

/** Lag (in samples, 0..maxLag) at which `delayed` best matches `reference`, by cross-correlation. */
export function bestLag(reference: Int16Array, delayed: Int16Array, maxLag: number): number {
  let best = 0;
  let bestScore = Number.NEGATIVE_INFINITY;
  const length = Math.min(reference.length, delayed.length) - maxLag;
  for (let lag = 0; lag <= maxLag; lag++) {
    let score = 0;
    for (let n = 0; n < length; n++) score += reference[n]! * delayed[n + lag]!;
    if (score > bestScore) {
      bestScore = score;
      best = lag;
    }
  }
  return best;
}

/**
 * Normalised cross-correlation of a[i] with b[i + lag] over their overlap (no mean removal: audio
 * is zero-mean), 0 when either side is silent there.
 */
export function correlationAtLag(a: ArrayLike<number>, b: ArrayLike<number>, lag: number): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = Math.max(0, -lag); i < a.length && i + lag < b.length; i++) {
    const x = a[i]!;
    const y = b[i + lag]!;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}

/** Signal-to-noise ratio in dB of `actual` against `expected` (same length). */
export function snrDb(expected: ArrayLike<number>, actual: ArrayLike<number>): number {
  let signal = 0;
  let noise = 0;
  for (let n = 0; n < expected.length; n++) {
    signal += expected[n]! * expected[n]!;
    const error = actual[n]! - expected[n]!;
    noise += error * error;
  }
  return powerDb(signal / noise);
}

/** Pearson correlation of two equally long signals. */
export function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sumA = 0;
  let sumB = 0;
  for (let n = 0; n < a.length; n++) {
    sumA += a[n]!;
    sumB += b[n]!;
  }
  const meanA = sumA / a.length;
  const meanB = sumB / a.length;
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let n = 0; n < a.length; n++) {
    const x = a[n]! - meanA;
    const y = b[n]! - meanB;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return ab / Math.sqrt(aa * bb);
}
