/**
 * A pure energy-based voice activity detector over mono PCM16, counting audio time (samples), never
 * wall time: a client may append a minute of audio in one event and still get the turns it holds.
 *
 * Each 10 ms frame is "loud" when its RMS level reaches the threshold. Voice Live's `threshold` (0..1)
 * maps linearly onto dBFS: `level = -70 dBFS + 60 dB * threshold`, so 0 hears almost anything above
 * digital silence, the default 0.5 needs -40 dBFS (quiet speech, well above a Discord noise gate's
 * floor) and 1 needs -10 dBFS (shouting). Speech starts once loud frames add up to
 * `speechDurationMs` (quiet gaps shorter than {@link ONSET_GAP_TOLERANCE_MS} do not reset the count),
 * and stops after `silenceDurationMs` without a loud frame.
 */

export interface VadSettings {
  /** 0..1, see the module comment for the dBFS mapping. */
  readonly threshold: number;
  /** Audio before the detected onset that belongs to the utterance. */
  readonly prefixPaddingMs: number;
  readonly silenceDurationMs: number;
  /** Loud audio needed before speech counts as started (filters clicks). */
  readonly speechDurationMs: number;
}

export interface VadListener {
  /** `startSample` includes the prefix padding but never reaches before the buffer start. */
  onSpeechStarted(startSample: number): void;
  /** `endSample` is the end of the last loud frame. */
  onSpeechStopped(endSample: number): void;
}

const VAD_FRAME_MS = 10;
const FULL_SCALE_SQUARED = 32768 * 32768;
/** Short dips inside a syllable must not restart the onset count. */
export const ONSET_GAP_TOLERANCE_MS = 100;

/** The RMS level, in dBFS, a frame needs to count as speech for a given Voice Live threshold. */
export function thresholdToDbfs(threshold: number): number {
  return -70 + 60 * threshold;
}

export class EnergyVad {
  readonly #listener: VadListener;
  readonly #frameSamples: number;
  readonly #meanSquareThreshold: number;
  readonly #prefixSamples: number;
  readonly #silenceSamples: number;
  readonly #speechSamples: number;
  readonly #gapSamples: number;

  /** Absolute index of the next sample to arrive. */
  #position = 0;
  #frameSumSquares = 0;
  #frameFill = 0;
  #speaking = false;
  /** Where the current run of loud frames began while not speaking, or -1. */
  #onsetSample = -1;
  #onsetLoudSamples = 0;
  #lastLoudEnd = 0;
  /** Prefix padding never reaches before this sample (the start of the input buffer). */
  #floor = 0;

  /** `startSample`: the absolute index of the first sample this detector will see. */
  constructor(settings: VadSettings, sampleRate: number, listener: VadListener, startSample = 0) {
    const samplesPerMs = sampleRate / 1000;
    this.#position = startSample;
    this.#floor = startSample;
    this.#listener = listener;
    this.#frameSamples = Math.round(VAD_FRAME_MS * samplesPerMs);
    this.#meanSquareThreshold = FULL_SCALE_SQUARED * 10 ** (thresholdToDbfs(settings.threshold) / 10);
    this.#prefixSamples = Math.round(settings.prefixPaddingMs * samplesPerMs);
    this.#silenceSamples = Math.max(
      this.#frameSamples,
      Math.round(settings.silenceDurationMs * samplesPerMs),
    );
    this.#speechSamples = Math.max(this.#frameSamples, Math.round(settings.speechDurationMs * samplesPerMs));
    this.#gapSamples = Math.round(ONSET_GAP_TOLERANCE_MS * samplesPerMs);
  }

  get speaking(): boolean {
    return this.#speaking;
  }

  /** Where a run of loud audio that has not yet counted as speech began (without padding), or -1. */
  get pendingOnset(): number {
    return this.#speaking ? -1 : this.#onsetSample;
  }

  /** How far before the onset an utterance reaches. */
  get prefixSamples(): number {
    return this.#prefixSamples;
  }

  /** Forgets any speech in progress: the input buffer was just committed or cleared, so padding stops here. */
  reset(): void {
    this.#speaking = false;
    this.#onsetSample = -1;
    this.#onsetLoudSamples = 0;
    this.#floor = this.#position;
  }

  process(samples: Int16Array): void {
    const frameSamples = this.#frameSamples;
    const loudSum = this.#meanSquareThreshold * frameSamples;
    // #position already counts the #frameFill samples of a partial frame; add only what is new.
    let sum = this.#frameSumSquares;
    let fill = this.#frameFill;
    for (let i = 0; i < samples.length; i++) {
      const s = samples[i]!;
      sum += s * s;
      if (++fill === frameSamples) {
        this.#position += fill - this.#frameFill;
        this.#frameFill = 0;
        this.#onFrame(sum >= loudSum);
        sum = 0;
        fill = 0;
      }
    }
    this.#position += fill - this.#frameFill;
    this.#frameSumSquares = sum;
    this.#frameFill = fill;
  }

  #onFrame(loud: boolean): void {
    const frameEnd = this.#position;
    const frameStart = frameEnd - this.#frameSamples;
    if (this.#speaking) {
      if (loud) {
        this.#lastLoudEnd = frameEnd;
      } else if (frameEnd - this.#lastLoudEnd >= this.#silenceSamples) {
        this.#speaking = false;
        this.#onsetSample = -1;
        this.#floor = this.#lastLoudEnd;
        this.#listener.onSpeechStopped(this.#lastLoudEnd);
      }
      return;
    }
    if (!loud) {
      if (this.#onsetSample >= 0 && frameEnd - this.#lastLoudEnd >= this.#gapSamples) this.#onsetSample = -1;
      return;
    }
    if (this.#onsetSample < 0) {
      this.#onsetSample = frameStart;
      this.#onsetLoudSamples = 0;
    }
    this.#onsetLoudSamples += this.#frameSamples;
    this.#lastLoudEnd = frameEnd;
    if (this.#onsetLoudSamples >= this.#speechSamples) {
      this.#speaking = true;
      this.#listener.onSpeechStarted(Math.max(this.#floor, this.#onsetSample - this.#prefixSamples));
    }
  }
}
