import { TokenBucket } from "../util/token-bucket.ts";

export type RateVerdict = { readonly ok: true } | { readonly ok: false; readonly retryAfterMs: number };

export interface RateLimiterOptions {
  /** Bucket size and refill: this many commands at once, refilled evenly over a minute. */
  readonly perMinute: number;
  readonly now?: () => number;
  /** Past this many keys, full (idle) buckets are forgotten. */
  readonly maxKeys?: number;
}

/** A token bucket per key (a guild): bursts up to `perMinute`, then `perMinute` per minute; refusals cost nothing. */
export class RateLimiter {
  readonly #options: RateLimiterOptions;
  readonly #buckets = new Map<string, TokenBucket>();

  constructor(options: RateLimiterOptions) {
    this.#options = options;
  }

  take(key: string): RateVerdict {
    const bucket = this.#buckets.get(key) ?? this.#add(key);
    const available = bucket.available();
    if (available < 1) return { ok: false, retryAfterMs: Math.ceil((1 - available) / bucket.refillPerMs) };
    bucket.reserve();
    return { ok: true };
  }

  get trackedKeys(): number {
    return this.#buckets.size;
  }

  #add(key: string): TokenBucket {
    if (this.#buckets.size >= (this.#options.maxKeys ?? 10_000)) {
      for (const [idle, bucket] of this.#buckets) {
        if (bucket.available() >= bucket.capacity) this.#buckets.delete(idle);
      }
    }
    const bucket = new TokenBucket({
      capacity: this.#options.perMinute,
      refillPerMs: this.#options.perMinute / 60_000,
      now: this.#options.now,
    });
    this.#buckets.set(key, bucket);
    return bucket;
  }
}
