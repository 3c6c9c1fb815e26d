/**
 * A FIFO of Opus frames with a tag each, in growable ring arrays: steady-state pushes and shifts
 * allocate nothing, and the arrays only grow up to `capacity` entries.
 */
export class TaggedFrameQueue<T> {
  #frames: (Buffer | undefined)[];
  #tags: (T | undefined)[];
  #head = 0;
  #count = 0;
  readonly #capacity: number;

  constructor(capacity: number, initialSize = 64) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`queue capacity must be >= 1, got ${capacity}`);
    this.#capacity = capacity;
    const size = Math.min(initialSize, capacity);
    this.#frames = new Array<Buffer | undefined>(size).fill(undefined);
    this.#tags = new Array<T | undefined>(size).fill(undefined);
  }

  get length(): number {
    return this.#count;
  }

  /** false when the queue is at capacity (nothing is added). */
  push(frame: Buffer, tag: T | undefined): boolean {
    if (this.#count >= this.#capacity) return false;
    if (this.#count === this.#frames.length) this.#grow();
    const slot = (this.#head + this.#count) % this.#frames.length;
    this.#frames[slot] = frame;
    this.#tags[slot] = tag;
    this.#count++;
    return true;
  }

  /** Tag of the frame shift() would return next. */
  peekTag(): T | undefined {
    return this.#tags[this.#head];
  }

  /** Removes and returns the oldest frame (read its tag with peekTag() first). */
  shift(): Buffer | undefined {
    if (this.#count === 0) return undefined;
    const frame = this.#frames[this.#head];
    this.#frames[this.#head] = undefined;
    this.#tags[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#frames.length;
    this.#count--;
    return frame;
  }

  /** Empties the queue, oldest first, telling `dropped` each frame's tag; returns how many were dropped. */
  clear(dropped?: (tag: T | undefined) => void): number {
    const count = this.#count;
    while (this.#count > 0) {
      dropped?.(this.#tags[this.#head]);
      this.shift();
    }
    this.#head = 0;
    return count;
  }

  #grow(): void {
    const size = Math.min(this.#capacity, this.#frames.length * 2);
    const frames = new Array<Buffer | undefined>(size).fill(undefined);
    const tags = new Array<T | undefined>(size).fill(undefined);
    for (let i = 0; i < this.#count; i++) {
      const slot = (this.#head + i) % this.#frames.length;
      frames[i] = this.#frames[slot];
      tags[i] = this.#tags[slot];
    }
    this.#frames = frames;
    this.#tags = tags;
    this.#head = 0;
  }
}
