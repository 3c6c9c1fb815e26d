/**
 * Whole-signal sample-rate conversion by any rational factor (44.1 -> 48 kHz, 8 -> 24 kHz, ...), for
 * audio converted once, off every hot path: the local server's replies, the simulator's input files.
 * Polyphase L/M with a Kaiser low-pass from fir.ts, designed like resample.ts's filters (flat to 0.8
 * of the lower Nyquist rate, 70 dB from it up), its group delay removed so output aligns with input.
 * The streaming resamplers in resample.ts cover only 48 <-> 24/16 kHz.
 */
import { designKaiserLowpass } from "./fir.ts";
import { saturate16 } from "./pcm.ts";

const tapsByPair = new Map<string, Float64Array>();

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function tapsFor(fromRate: number, toRate: number, up: number): Float64Array {
  const key = `${fromRate}>${toRate}`;
  let taps = tapsByPair.get(key);
  if (taps === undefined) {
    const nyquist = Math.min(fromRate, toRate) / 2;
    taps = designKaiserLowpass({
      sampleRate: fromRate * up,
      passbandHz: 0.8 * nyquist,
      stopbandHz: nyquist,
      attenuationDb: 70,
    });
    tapsByPair.set(key, taps);
  }
  return taps;
}

/** Returns `input` (mono PCM16 at `fromRate`) at `toRate`; the same array when the rates match. */
export function convertSampleRate(input: Int16Array, fromRate: number, toRate: number): Int16Array {
  if (fromRate === toRate) return input;
  const divisor = gcd(fromRate, toRate);
  const up = toRate / divisor;
  const down = fromRate / divisor;
  const taps = tapsFor(fromRate, toRate, up);
  const last = taps.length - 1;
  const centre = Math.round(last / 2);
  const output = new Int16Array(Math.floor((input.length * up) / down));
  for (let n = 0; n < output.length; n++) {
    // Output n sits at upsampled index n*down; input j sits at j*up; tap index = n*down + centre - j*up.
    const at = n * down + centre;
    const firstJ = Math.max(0, Math.ceil((at - last) / up));
    const lastJ = Math.min(input.length - 1, Math.floor(at / up));
    let acc = 0;
    for (let j = firstJ; j <= lastJ; j++) acc += taps[at - j * up]! * input[j]!;
    output[n] = saturate16(acc * up);
  }
  return output;
}
