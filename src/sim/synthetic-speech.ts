import { seededRandom } from "../audio/analysis.ts";
import { FRAME_SAMPLES_48K, FRAME_SAMPLES_48K_STEREO } from "../audio/constants.ts";
import { upmixMono } from "../audio/pcm.ts";

/**
 * Sounds made on the spot, for benchmarks that must not run on the recordings the tests use:
 * speech-like voicing (a glottal pulse train through two formant resonators, in syllables at about
 * 4 per second) and coughs (a burst of shaped noise). 48 kHz stereo 20 ms frames, as Discord sends.
 */

const RATE = 48_000;
/** Vowel formants (F1, F2 in Hz): a, e, i, o, u. */
const VOWELS: readonly (readonly [number, number])[] = [
  [730, 1090],
  [530, 1840],
  [270, 2290],
  [570, 840],
  [300, 870],
];

/** A two-pole resonator, bandwidth `bandwidthHz`, its state kept between samples. */
class Resonator {
  #a1 = 0;
  #a2 = 0;
  #gain = 0;
  #y1 = 0;
  #y2 = 0;

  tune(frequencyHz: number, bandwidthHz: number): void {
    const r = Math.exp((-Math.PI * bandwidthHz) / RATE);
    this.#a1 = 2 * r * Math.cos((2 * Math.PI * frequencyHz) / RATE);
    this.#a2 = -r * r;
    this.#gain = 1 - r;
  }

  step(x: number): number {
    const y = this.#gain * x + this.#a1 * this.#y1 + this.#a2 * this.#y2;
    this.#y2 = this.#y1;
    this.#y1 = y;
    return y;
  }
}

function toFrames(mono: Float64Array, peak: number): Int16Array[] {
  let max = 0;
  for (let i = 0; i < mono.length; i++) max = Math.max(max, Math.abs(mono[i]!));
  const scale = max === 0 ? 0 : peak / max;
  const pcm = Int16Array.from(mono, (sample) => Math.round(sample * scale));
  const frames: Int16Array[] = [];
  for (let start = 0; start < pcm.length; start += FRAME_SAMPLES_48K) {
    const frame = new Int16Array(FRAME_SAMPLES_48K_STEREO);
    upmixMono(pcm.subarray(start, start + FRAME_SAMPLES_48K), frame);
    frames.push(frame);
  }
  return frames;
}

/**
 * `ms` of voiced, speech-like sound from `seed`: loud from its first frame (as speech cut into the
 * middle of a sentence is), syllables of 150 to 300 ms with dips between them short enough that no
 * voice activity detector ends the turn inside it.
 */
export function voicedSpeech(ms: number, seed: number, peak = 12_000): Int16Array[] {
  const random = seededRandom(seed);
  const length = Math.round((ms * RATE) / 1000);
  const out = new Float64Array(length);
  const f1 = new Resonator();
  const f2 = new Resonator();
  const pitchHz = 100 + random() * 120;
  let phase = 0;
  let at = 0;
  while (at < length) {
    const syllable = Math.round(((150 + random() * 150) * RATE) / 1000);
    const [formant1, formant2] = VOWELS[Math.floor(random() * VOWELS.length)]!;
    f1.tune(formant1, 90);
    f2.tune(formant2, 120);
    const end = Math.min(length, at + syllable);
    for (let n = at; n < end; n++) {
      const progress = (n - at) / syllable;
      // Pitch wanders a little within a syllable, as intonation does.
      phase += (pitchHz * (1 + 0.08 * Math.sin(2 * Math.PI * progress))) / RATE;
      let pulse = 0;
      if (phase >= 1) {
        phase -= 1;
        pulse = 1;
      }
      // Loudness dips to a fifth between syllables, never to silence.
      const envelope = 0.2 + 0.8 * Math.sin(Math.PI * progress) ** 0.5;
      out[n] = envelope * (f1.step(pulse) * 2 + f2.step(pulse)) + 0.002 * (random() * 2 - 1);
    }
    at = end;
  }
  return toFrames(out, peak);
}

/** A cough: `ms` of noise, loud at once and fading, with a low resonance. */
export function coughBurst(ms: number, seed: number, peak = 10_000): Int16Array[] {
  const random = seededRandom(seed);
  const length = Math.round((ms * RATE) / 1000);
  const out = new Float64Array(length);
  const body = new Resonator();
  body.tune(400 + random() * 400, 600);
  for (let n = 0; n < length; n++) {
    const noise = random() * 2 - 1;
    const envelope = Math.exp((-2 * n) / length);
    out[n] = envelope * (0.6 * noise + 4 * body.step(noise));
  }
  return toFrames(out, peak);
}
