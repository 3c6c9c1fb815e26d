/**
 * Linear-phase low-pass FIR design by the Kaiser window method (Kaiser's formulas for length and
 * shape, as in Oppenheim & Schafer, "Discrete-Time Signal Processing", 7.6). Deterministic: the same
 * spec gives the same coefficients on every load, so no generated constants need to be kept.
 */
export interface LowpassSpec {
  readonly sampleRate: number;
  /** Highest frequency that must pass unchanged. */
  readonly passbandHz: number;
  /** Lowest frequency that must be attenuated by `attenuationDb`. */
  readonly stopbandHz: number;
  readonly attenuationDb: number;
  /** Round the length up to a multiple of this (an interpolator by L splits taps into L phases). */
  readonly lengthMultipleOf?: number;
}

export function designKaiserLowpass(spec: LowpassSpec): Float64Array {
  const { sampleRate, passbandHz, stopbandHz, attenuationDb } = spec;
  if (!(passbandHz > 0 && stopbandHz > passbandHz && stopbandHz <= sampleRate / 2 && attenuationDb > 21)) {
    throw new RangeError(`Invalid low-pass spec: ${JSON.stringify(spec)}`);
  }
  const transition = (2 * Math.PI * (stopbandHz - passbandHz)) / sampleRate;
  const multiple = spec.lengthMultipleOf ?? 1;
  const minimumLength = Math.ceil((attenuationDb - 7.95) / (2.285 * transition)) + 1;
  const length = Math.ceil(minimumLength / multiple) * multiple;
  const beta = kaiserBeta(attenuationDb);
  const cutoff = (passbandHz + stopbandHz) / 2 / sampleRate;
  const centre = (length - 1) / 2;
  const norm = besselI0(beta);
  const taps = new Float64Array(length);
  let sum = 0;
  for (let k = 0; k < length; k++) {
    const t = k - centre;
    const sinc = t === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * t) / (Math.PI * t);
    const r = t / centre;
    const window = besselI0(beta * Math.sqrt(Math.max(0, 1 - r * r))) / norm;
    taps[k] = sinc * window;
    sum += taps[k]!;
  }
  // Unity gain at DC exactly, whatever the truncation did.
  for (let k = 0; k < length; k++) taps[k] = taps[k]! / sum;
  return taps;
}

function kaiserBeta(attenuationDb: number): number {
  if (attenuationDb > 50) return 0.1102 * (attenuationDb - 8.7);
  return 0.5842 * (attenuationDb - 21) ** 0.4 + 0.07886 * (attenuationDb - 21);
}

/** Modified Bessel function of the first kind, order 0, by its power series. */
function besselI0(x: number): number {
  const quarterSquare = (x * x) / 4;
  let term = 1;
  let sum = 1;
  for (let k = 1; term > sum * 1e-17; k++) {
    term *= quarterSquare / (k * k);
    sum += term;
  }
  return sum;
}
