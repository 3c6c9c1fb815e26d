import { FRAME_MS } from "./constants.ts";

/** Timer functions, injectable so tests can drive the clock through simulated time. */
export interface FrameClockScheduler {
  schedule(callback: () => void, delayMs: number): unknown;
  cancel(handle: unknown): void;
}

export interface FrameClockOptions {
  /** Called once per tick with the tick's index (0, 1, 2, ...) and the monotonic time it was due. */
  readonly onTick: (tick: number, dueMs: number) => void;
  /** Receives what onTick throws; the clock keeps running. Without it the error is rethrown. */
  readonly onError?: (error: unknown, tick: number) => void;
  readonly periodMs?: number;
  /** Ticks delivered per wake at most; older overdue ticks are skipped and counted. */
  readonly maxTicksPerWake?: number;
  /** Monotonic milliseconds. */
  readonly now?: () => number;
  readonly scheduler?: FrameClockScheduler;
}

const timers: FrameClockScheduler = {
  schedule: (callback, delayMs) => setTimeout(callback, delayMs),
  cancel: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

const MAX_TICKS_PER_WAKE = 2;

/**
 * A drift-free periodic clock: tick n is due at start + n * period, computed from monotonic time,
 * so timer lateness never accumulates. Each wake aims a timer at the next due time; a timer that
 * fires early is re-aimed at the remainder. After a stall (GC pause, blocked event loop) it
 * delivers at most `maxTicksPerWake` ticks at once, the most recent ones, and counts the rest in
 * `skippedTicks`, so a stall never becomes a burst of stale frames.
 */
export class FrameClock {
  readonly periodMs: number;
  readonly #onTick: (tick: number, dueMs: number) => void;
  readonly #onError: ((error: unknown, tick: number) => void) | undefined;
  readonly #maxTicksPerWake: number;
  readonly #now: () => number;
  readonly #scheduler: FrameClockScheduler;
  readonly #wakeHandler = (): void => this.#wake();
  #timer: unknown;
  #active = false;
  #startMs = 0;
  #nextTick = 0;
  #delivered = 0;
  #skipped = 0;

  constructor(options: FrameClockOptions) {
    this.#onTick = options.onTick;
    this.#onError = options.onError;
    this.periodMs = options.periodMs ?? FRAME_MS;
    this.#maxTicksPerWake = options.maxTicksPerWake ?? MAX_TICKS_PER_WAKE;
    this.#now = options.now ?? (() => performance.now());
    this.#scheduler = options.scheduler ?? timers;
    if (!(this.periodMs > 0))
      throw new RangeError(`FrameClock period must be positive, got ${this.periodMs}`);
    if (!(Number.isInteger(this.#maxTicksPerWake) && this.#maxTicksPerWake >= 1)) {
      throw new RangeError(
        `FrameClock maxTicksPerWake must be a positive integer, got ${this.#maxTicksPerWake}`,
      );
    }
  }

  get running(): boolean {
    return this.#active;
  }

  /** Ticks delivered to onTick since start(). */
  get ticks(): number {
    return this.#delivered;
  }

  /** Ticks that fell due during a stall and were never delivered. */
  get skippedTicks(): number {
    return this.#skipped;
  }

  /** Starts (or restarts) with tick 0 due now. */
  start(): void {
    this.stop();
    this.#active = true;
    this.#startMs = this.#now();
    this.#nextTick = 0;
    this.#delivered = 0;
    this.#skipped = 0;
    this.#timer = this.#scheduler.schedule(this.#wakeHandler, 0);
  }

  stop(): void {
    if (!this.#active) return;
    this.#active = false;
    this.#scheduler.cancel(this.#timer);
    this.#timer = undefined;
  }

  /** When tick `tick` is (or was) due, in the time source's milliseconds. */
  dueTime(tick: number): number {
    return this.#startMs + tick * this.periodMs;
  }

  #wake(): void {
    if (!this.#active) return;
    const lastDue = Math.floor((this.#now() - this.#startMs) / this.periodMs);
    let first = this.#nextTick;
    if (lastDue - first + 1 > this.#maxTicksPerWake) {
      const oldestKept = lastDue - this.#maxTicksPerWake + 1;
      this.#skipped += oldestKept - first;
      first = oldestKept;
    }
    this.#nextTick = Math.max(this.#nextTick, lastDue + 1);
    // Re-arm before delivering, so a throwing or stopping onTick leaves the clock consistent.
    this.#timer = this.#scheduler.schedule(
      this.#wakeHandler,
      Math.max(0, this.dueTime(this.#nextTick) - this.#now()),
    );
    for (let tick = first; tick <= lastDue && this.#active; tick++) {
      this.#delivered++;
      try {
        this.#onTick(tick, this.dueTime(tick));
      } catch (error) {
        if (this.#onError === undefined) throw error;
        this.#onError(error, tick);
      }
    }
  }
}
