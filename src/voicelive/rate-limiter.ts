import { TokenBucket } from "../util/token-bucket.ts";

/**
 * New-connection rate limiting. Voice Live counts new WebSocket connections per resource per
 * minute (S0: 30), so every guild's session to one endpoint draws from one shared token bucket.
 * The bucket starts full: a burst of `perMinute` is allowed, then `perMinute` per minute.
 */

export interface LimiterClock {
  now(): number;
  /** Resolves after `ms`, or early (with false) when the signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<boolean>;
}

export const realClock: LimiterClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<boolean>((resolve) => {
      if (signal?.aborted) {
        resolve(false);
        return;
      }
      const onAbort = (): void => {
        clearTimeout(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve(true);
      }, ms);
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
};

export class ConnectionRateLimiter {
  readonly perMinute: number;
  readonly #bucket: TokenBucket;
  readonly #clock: LimiterClock;

  constructor(perMinute: number, clock: LimiterClock = realClock) {
    this.perMinute = perMinute;
    this.#clock = clock;
    this.#bucket = new TokenBucket({
      capacity: perMinute,
      refillPerMs: perMinute / 60_000,
      now: () => clock.now(),
    });
  }

  /** Waits for a connection slot; false (and the slot returned) when aborted first. */
  async acquire(signal?: AbortSignal): Promise<boolean> {
    const waitMs = this.#bucket.reserve();
    if (waitMs === 0) return true;
    const completed = await this.#clock.sleep(waitMs, signal);
    if (!completed) this.#bucket.refund();
    return completed;
  }

  /** Ms the next caller would wait. */
  nextWaitMs(): number {
    const tokens = this.#bucket.available();
    return tokens >= 1 ? 0 : Math.ceil((1 - tokens) / this.#bucket.refillPerMs);
  }
}

const sharedLimiters = new Map<string, ConnectionRateLimiter>();

/** The process-wide limiter for an endpoint; the first caller's rate sets it. */
export function sharedConnectionLimiter(endpoint: string, perMinute: number): ConnectionRateLimiter {
  const key = new URL(endpoint).origin;
  let limiter = sharedLimiters.get(key);
  if (limiter === undefined) {
    limiter = new ConnectionRateLimiter(perMinute);
    sharedLimiters.set(key, limiter);
  }
  return limiter;
}
