/**
 * The session's input audio buffer: mono PCM16 addressed by absolute sample index (samples since the
 * buffer's clock began), so VAD positions map straight onto it. Bounded: beyond `maxSamples` the
 * oldest audio is dropped, as a client that never ends a turn must not exhaust memory.
 */
export class InputAudioBuffer {
  readonly #maxSamples: number;
  #data: Int16Array;
  /** Index into #data of the oldest kept sample. */
  #head = 0;
  #length = 0;
  /** Absolute index of the oldest kept sample. */
  #start = 0;

  constructor(maxSamples: number) {
    this.#maxSamples = maxSamples;
    this.#data = new Int16Array(Math.min(maxSamples, 48_000));
  }

  /** Absolute index of the oldest sample held. */
  get start(): number {
    return this.#start;
  }

  /** Absolute index one past the newest sample held. */
  get end(): number {
    return this.#start + this.#length;
  }

  get length(): number {
    return this.#length;
  }

  append(samples: Int16Array): void {
    let incoming = samples;
    if (incoming.length > this.#maxSamples) {
      this.dropBefore(this.end + incoming.length - this.#maxSamples);
      incoming = incoming.subarray(incoming.length - this.#maxSamples);
    }
    const overflow = this.#length + incoming.length - this.#maxSamples;
    if (overflow > 0) this.dropBefore(this.#start + overflow);
    this.#reserve(incoming.length);
    this.#data.set(incoming, this.#head + this.#length);
    this.#length += incoming.length;
  }

  /** A copy of the samples in [from, to), clamped to what the buffer holds. */
  copy(from: number, to: number): Int16Array {
    const a = Math.max(from, this.#start) - this.#start;
    const b = Math.min(to, this.end) - this.#start;
    return b > a ? this.#data.slice(this.#head + a, this.#head + b) : new Int16Array(0);
  }

  /** Forgets every sample before the absolute index `sample`. */
  dropBefore(sample: number): void {
    const drop = Math.min(Math.max(0, sample - this.#start), this.#length);
    this.#head += drop;
    this.#length -= drop;
    this.#start = Math.max(this.#start + drop, sample);
    if (this.#length === 0) this.#head = 0;
  }

  /** Empties the buffer; the clock continues from `end`. */
  clear(): void {
    this.dropBefore(this.end);
  }

  #reserve(extra: number): void {
    const needed = this.#length + extra;
    if (this.#head + needed <= this.#data.length) return;
    if (needed <= this.#data.length) {
      this.#data.copyWithin(0, this.#head, this.#head + this.#length);
    } else {
      const grown = new Int16Array(Math.min(this.#maxSamples, Math.max(needed, this.#data.length * 2)));
      grown.set(this.#data.subarray(this.#head, this.#head + this.#length));
      this.#data = grown;
    }
    this.#head = 0;
  }
}
