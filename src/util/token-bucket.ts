/**
 * A token bucket that starts full: `capacity` at once, then `refillPerMs` per ms. Used for Voice
 * Live's new-connection quota and for the per-guild command limit.
 */
export class TokenBucket {
  readonly capacity: number;
  readonly refillPerMs: number;
  readonly #now: () => number;
  #tokens: number;
  #updatedAt: number;

  constructor(options: {
    readonly capacity: number;
    readonly refillPerMs: number;
    readonly now?: () => number;
  }) {
    if (!(options.capacity >= 1) || !(options.refillPerMs > 0)) {
      throw new RangeError("TokenBucket needs capacity >= 1 and refillPerMs > 0");
    }
    this.capacity = options.capacity;
    this.refillPerMs = options.refillPerMs;
    this.#now = options.now ?? Date.now;
    this.#tokens = options.capacity;
    this.#updatedAt = this.#now();
  }

  /** Tokens available now; negative while reservations are waiting. */
  available(): number {
    this.#refill();
    return this.#tokens;
  }

  /**
   * Reserves one token and returns how many ms until it may be used (0: now). The balance may go
   * negative, so callers queue in arrival order without a waiter list.
   */
  reserve(): number {
    this.#refill();
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : Math.ceil(-this.#tokens / this.refillPerMs);
  }

  /** Gives back a reservation that will not be used. */
  refund(): void {
    this.#refill();
    this.#tokens = Math.min(this.capacity, this.#tokens + 1);
  }

  #refill(): void {
    const now = this.#now();
    const elapsed = now - this.#updatedAt;
    if (elapsed > 0) {
      this.#tokens = Math.min(this.capacity, this.#tokens + elapsed * this.refillPerMs);
      this.#updatedAt = now;
    }
  }
}
