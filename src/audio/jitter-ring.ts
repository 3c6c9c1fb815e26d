/**
 * A speaker's few queued 20 ms frames between its resampler and the mix: a fixed ring of
 * preallocated frames, so a push copies samples and allocates nothing. When it is full the oldest
 * frame goes: a speaker whose packets bunch up loses its stalest audio, not its newest.
 */
export class JitterRing {
  readonly #frames: Int16Array[];
  readonly #receivedAt: Float64Array;
  #head = 0;
  #size = 0;
  #dropped = 0;
  /** A frame of this ring went into the last tick's mix (the mixer's catch-up reads it). */
  heardLastTick = false;

  constructor(capacity: number, frameSamples: number) {
    this.#frames = Array.from({ length: capacity }, () => new Int16Array(frameSamples));
    this.#receivedAt = new Float64Array(capacity);
  }

  get size(): number {
    return this.#size;
  }

  /** Frames pushed out unmixed because the ring was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Copies one frame in (zero-padded or cut to the frame length); `receivedAt` is performance.now(). */
  push(pcm: Int16Array, receivedAt: number): void {
    const capacity = this.#frames.length;
    if (this.#size === capacity) {
      this.#head = (this.#head + 1) % capacity;
      this.#size--;
      this.#dropped++;
    }
    const slot = (this.#head + this.#size) % capacity;
    const frame = this.#frames[slot]!;
    const length = Math.min(pcm.length, frame.length);
    frame.set(length === pcm.length ? pcm : pcm.subarray(0, length));
    if (length < frame.length) frame.fill(0, length);
    this.#receivedAt[slot] = receivedAt;
    this.#size++;
  }

  /** The oldest frame; valid until the ring wraps onto its slot. The ring must not be empty. */
  oldest(): Int16Array {
    return this.#frames[this.#head]!;
  }

  oldestReceivedAt(): number {
    return this.#receivedAt[this.#head]!;
  }

  /** Removes the oldest frame. */
  shift(): void {
    if (this.#size === 0) return;
    this.#head = (this.#head + 1) % this.#frames.length;
    this.#size--;
  }
}
