import { describe, expect, it } from "vitest";
import { RateLimiter } from "../../src/discord/rate-limit.ts";

describe("RateLimiter", () => {
  it("allows a burst of perMinute, then one more every 60/perMinute seconds, per key", () => {
    let now = 0;
    const limiter = new RateLimiter({ perMinute: 6, now: () => now });
    for (let i = 0; i < 6; i++) expect(limiter.take("a").ok).toBe(true);
    expect(limiter.take("a")).toEqual({ ok: false, retryAfterMs: 10_000 });
    expect(limiter.take("b").ok).toBe(true);
    now += 9_999;
    expect(limiter.take("a").ok).toBe(false);
    now += 1;
    expect(limiter.take("a").ok).toBe(true);
    expect(limiter.take("a").ok).toBe(false);
    now += 10 * 60_000;
    for (let i = 0; i < 6; i++) expect(limiter.take("a").ok).toBe(true);
    expect(limiter.take("a").ok).toBe(false);
  });

  it("forgets idle keys once it tracks many", () => {
    let now = 0;
    const limiter = new RateLimiter({ perMinute: 10, now: () => now, maxKeys: 3 });
    for (const key of ["a", "b", "c"]) limiter.take(key);
    now += 60_000;
    limiter.take("d");
    expect(limiter.trackedKeys).toBe(1);
  });
});
