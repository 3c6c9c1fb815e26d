/**
 * At most `limit` grants in any `windowMs`: a grant waits until the one `limit` places before it
 * is a full window old. Unlike a token bucket that starts full, a burst never doubles up across a
 * window boundary, so "30 a minute" holds for every minute.
 */
export class SlidingWindow {
  readonly limit: number;
  readonly windowMs: number;
  readonly #now: () => number;
  /** Grant times, ascending, younger than a window (or still to come). */
  readonly #grants: number[] = [];

  constructor(options: { readonly limit: number; readonly windowMs: number; readonly now?: () => number }) {
    if (!(options.limit >= 1) || !(options.windowMs > 0)) {
      throw new RangeError("SlidingWindow needs limit >= 1 and windowMs > 0");
    }
    this.limit = options.limit;
    this.windowMs = options.windowMs;
    this.#now = options.now ?? Date.now;
  }

  /** Reserves the next grant and returns how many ms until it may be used (0: now). */
  reserve(): number {
    const now = this.#now();
    while (this.#grants.length > 0 && this.#grants[0]! <= now - this.windowMs) this.#grants.shift();
    const at = this.#nextGrantAt(now);
    this.#grants.push(at);
    return at - now;
  }

  /**
   * Gives back a reservation that will not be used. The latest one is dropped: whichever waiter
   * gave up, no window then holds more than `limit` grants.
   */
  refund(): void {
    this.#grants.pop();
  }

  /** Ms the next reservation would wait. */
  nextWaitMs(): number {
    const now = this.#now();
    return this.#nextGrantAt(now) - now;
  }

  #nextGrantAt(now: number): number {
    return nextGrantAt(this.#grants, this.limit, this.windowMs, now);
  }
}

/**
 * When the next grant may be used, given the earlier ones (ascending). Exported for a window kept
 * elsewhere (the PostgreSQL budget reads its grants from a table).
 */
export function nextGrantAt(grants: readonly number[], limit: number, windowMs: number, now: number): number {
  const last = grants.at(-1) ?? Number.NEGATIVE_INFINITY;
  if (grants.length < limit) return Math.max(now, last);
  return Math.max(now, last, grants[grants.length - limit]! + windowMs);
}
