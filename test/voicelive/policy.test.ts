import { describe, expect, it } from "vitest";
import { seededRandom } from "../../src/audio/analysis.ts";
import { SlidingWindow } from "../../src/util/sliding-window.ts";
import { TokenBucket } from "../../src/util/token-bucket.ts";
import { backoffDelay } from "../../src/voicelive/backoff.ts";
import { classifyProblem, parseRetryAfter } from "../../src/voicelive/failure.ts";
import { appendEventJson, Base64PcmDecoder } from "../../src/voicelive/pcm-base64.ts";
import {
  BUDGET_WINDOW_MS,
  ConnectionRateLimiter,
  type LimiterClock,
  sharedConnectionLimiter,
} from "../../src/voicelive/rate-limiter.ts";
import { buildVoiceLiveUrl } from "../../src/voicelive/url.ts";

describe("backoffDelay", () => {
  const policy = { baseMs: 500, maxMs: 30_000 };

  it("doubles the ceiling per attempt up to the cap, with full jitter", () => {
    const top = () => 0.999_999;
    expect(backoffDelay(0, policy, top)).toBe(499);
    expect(backoffDelay(1, policy, top)).toBe(999);
    expect(backoffDelay(5, policy, top)).toBe(15_999);
    expect(backoffDelay(6, policy, top)).toBe(29_999);
    expect(backoffDelay(1000, policy, top)).toBe(29_999);
    expect(backoffDelay(3, policy, () => 0)).toBe(0);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(2_000);
  });
});

describe("TokenBucket", () => {
  it("allows a burst of its capacity, then one token per refill interval", () => {
    let now = 0;
    const bucket = new TokenBucket({ capacity: 30, refillPerMs: 30 / 60_000, now: () => now });
    for (let i = 0; i < 30; i++) expect(bucket.reserve()).toBe(0);
    expect(bucket.reserve()).toBe(2_000);
    expect(bucket.reserve()).toBe(4_000);
    now = 4_000;
    expect(bucket.available()).toBeCloseTo(0, 9);
    expect(bucket.reserve()).toBe(2_000);
    now = 1_000_000;
    expect(bucket.available()).toBe(30);
  });

  it("gives a refunded reservation back", () => {
    let now = 0;
    const bucket = new TokenBucket({ capacity: 1, refillPerMs: 1 / 60_000, now: () => now });
    expect(bucket.reserve()).toBe(0);
    expect(bucket.reserve()).toBe(60_000);
    bucket.refund();
    expect(bucket.reserve()).toBe(60_000);
    now = 60_000;
    expect(bucket.reserve()).toBe(60_000);
  });
});

describe("SlidingWindow", () => {
  it("never grants more than the limit in any window, however the reservations fall", () => {
    let now = 0;
    const window = new SlidingWindow({ limit: 30, windowMs: 60_000, now: () => now });
    const random = seededRandom(7);
    const grants: number[] = [];
    for (let i = 0; i < 500; i++) {
      now += Math.floor(random() * 4_000);
      const wait = window.reserve();
      if (random() < 0.1) window.refund();
      else grants.push(now + wait);
    }
    grants.sort((a, b) => a - b);
    for (let i = 30; i < grants.length; i++)
      expect(grants[i]! - grants[i - 30]!).toBeGreaterThanOrEqual(60_000);
  });

  it("lets a burst of the limit through at once, then the next waits a full window", () => {
    let now = 1_000;
    const window = new SlidingWindow({ limit: 30, windowMs: 60_000, now: () => now });
    for (let i = 0; i < 30; i++) expect(window.reserve()).toBe(0);
    now += 10_000;
    expect(window.nextWaitMs()).toBe(50_000);
    expect(window.reserve()).toBe(50_000);
  });
});

describe("ConnectionRateLimiter", () => {
  function manualClock() {
    let now = 0;
    const sleepers: { until: number; resolve: (done: boolean) => void }[] = [];
    const clock: LimiterClock = {
      now: () => now,
      sleep: (ms, signal) =>
        new Promise<boolean>((resolve) => {
          sleepers.push({ until: now + ms, resolve });
          signal?.addEventListener("abort", () => resolve(false), { once: true });
        }),
    };
    const advance = (ms: number) => {
      now += ms;
      for (const s of sleepers.filter((x) => x.until <= now)) s.resolve(true);
    };
    return { clock, advance, sleepers };
  }

  it("makes the connection after the limit wait until the first is a minute (and a margin) old", async () => {
    const { clock, advance } = manualClock();
    const limiter = new ConnectionRateLimiter(2, clock);
    const waits: number[] = [];
    expect(await limiter.acquire(undefined, (ms) => waits.push(ms))).toBe(true);
    expect(await limiter.acquire(undefined, (ms) => waits.push(ms))).toBe(true);
    let third = false;
    const pending = limiter
      .acquire(undefined, (ms) => waits.push(ms))
      .then((ok) => {
        third = ok;
      });
    // Only the connection that must wait is told, with how long.
    expect(waits).toEqual([BUDGET_WINDOW_MS]);
    await Promise.resolve();
    expect(third).toBe(false);
    advance(BUDGET_WINDOW_MS - 1);
    await Promise.resolve();
    expect(third).toBe(false);
    advance(1);
    await pending;
    expect(third).toBe(true);
  });

  it("returns false and refunds the slot when aborted while waiting", async () => {
    const { clock } = manualClock();
    const limiter = new ConnectionRateLimiter(1, clock);
    await limiter.acquire();
    const controller = new AbortController();
    const pending = limiter.acquire(controller.signal);
    controller.abort();
    expect(await pending).toBe(false);
    expect(limiter.nextWaitMs()).toBe(BUDGET_WINDOW_MS);
  });

  it("is one limiter per endpoint origin", () => {
    const a = sharedConnectionLimiter("https://res-a.services.ai.azure.com", 30);
    expect(sharedConnectionLimiter("https://res-a.services.ai.azure.com/", 30)).toBe(a);
    expect(sharedConnectionLimiter("https://res-b.services.ai.azure.com", 30)).not.toBe(a);
  });
});

describe("classifyProblem", () => {
  it("does not retry auth or policy failures and names the likely cause", () => {
    const unauthorized = classifyProblem({ kind: "http", status: 401, retryAfterMs: undefined });
    expect(unauthorized.outcome).toBe("fatal");
    expect(unauthorized.message).toMatch(/AZURE_VOICELIVE_API_KEY/);
    expect(unauthorized.message).toMatch(/scope/);
    const forbidden = classifyProblem({ kind: "http", status: 403, retryAfterMs: undefined });
    expect(forbidden.outcome).toBe("fatal");
    expect(forbidden.message).toMatch(/role/);
    const policy = classifyProblem({
      kind: "close",
      code: 1008,
      reason: "Session configuration failed after 5 attempts",
    });
    expect(policy.outcome).toBe("fatal");
    expect(policy.message).toMatch(/1008: Session configuration failed after 5 attempts/);
    expect(classifyProblem({ kind: "rejected", message: "Invalid voice" })).toEqual({
      outcome: "fatal",
      message: "Voice Live rejected the session configuration: Invalid voice",
    });
    expect(classifyProblem({ kind: "http", status: 404, retryAfterMs: undefined }).message).toMatch(
      /AZURE_VOICELIVE_ENDPOINT/,
    );
  });

  it("retries throttling, server faults and network drops", () => {
    expect(classifyProblem({ kind: "http", status: 429, retryAfterMs: 5_000 })).toMatchObject({
      outcome: "retry",
      retryAfterMs: 5_000,
    });
    for (const status of [500, 502, 503, 408]) {
      expect(classifyProblem({ kind: "http", status, retryAfterMs: undefined }).outcome).toBe("retry");
    }
    for (const code of [1001, 1006, 1009, 1011, 4000]) {
      expect(classifyProblem({ kind: "close", code, reason: "" }).outcome).toBe("retry");
    }
    expect(
      classifyProblem({ kind: "network", message: "connect ECONNREFUSED", code: "ECONNREFUSED" }).outcome,
    ).toBe("retry");
    expect(classifyProblem({ kind: "timeout", waitingFor: "session.created" }).outcome).toBe("retry");
    expect(classifyProblem({ kind: "close", code: 1000, reason: "" }).outcome).toBe("normal");
  });

  it("gives up on a missing Entra credential but retries a failed token request", () => {
    expect(
      classifyProblem({ kind: "credential", name: "CredentialUnavailableError", message: "none" }).outcome,
    ).toBe("fatal");
    expect(
      classifyProblem({ kind: "credential", name: "AuthenticationError", message: "timeout" }).outcome,
    ).toBe("retry");
  });

  it("parses Retry-After in seconds or as a date", () => {
    expect(parseRetryAfter("7")).toBe(7_000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});

describe("buildVoiceLiveUrl", () => {
  const base = { apiVersion: "2025-10-01", model: "gpt-realtime", agent: undefined };

  it("builds model-mode URLs for both Azure host families", () => {
    expect(buildVoiceLiveUrl({ ...base, endpoint: "https://res.services.ai.azure.com" })).toBe(
      "wss://res.services.ai.azure.com/voice-live/realtime?api-version=2025-10-01&model=gpt-realtime",
    );
    expect(buildVoiceLiveUrl({ ...base, endpoint: "https://res.cognitiveservices.azure.com/" })).toBe(
      "wss://res.cognitiveservices.azure.com/voice-live/realtime?api-version=2025-10-01&model=gpt-realtime",
    );
  });

  it("maps http to ws for the local server", () => {
    expect(buildVoiceLiveUrl({ ...base, endpoint: "http://127.0.0.1:8080" })).toBe(
      "ws://127.0.0.1:8080/voice-live/realtime?api-version=2025-10-01&model=gpt-realtime",
    );
  });

  it("builds agent-mode URLs without a model", () => {
    const url = buildVoiceLiveUrl(
      {
        ...base,
        endpoint: "https://res.services.ai.azure.com",
        agent: { name: "helper", project: "proj", version: "3" },
      },
      { conversationId: "conv 1" },
    );
    expect(url).toBe(
      "wss://res.services.ai.azure.com/voice-live/realtime?api-version=2025-10-01&agent-name=helper&agent-project-name=proj&agent-version=3&conversation-id=conv+1",
    );
  });
});

describe("PCM base64", () => {
  it("round-trips PCM16 through an append frame", () => {
    const pcm = Int16Array.from([0, 1, -1, 32767, -32768, 1234]);
    const frame = JSON.parse(appendEventJson(pcm)) as { type: string; audio: string };
    expect(frame.type).toBe("input_audio_buffer.append");
    const decoded = new Base64PcmDecoder().decode(frame.audio);
    expect(Array.from(decoded ?? [])).toEqual(Array.from(pcm));
  });

  it("rejects non-canonical base64 and grows its buffer for large deltas", () => {
    const decoder = new Base64PcmDecoder();
    expect(decoder.decode("AA!A")).toBeUndefined();
    expect(decoder.decode("AAA")).toBeUndefined();
    expect(decoder.decode("AAAA====")).toBeUndefined();
    const big = new Int16Array(100_000).fill(7);
    expect(decoder.decode(Buffer.from(big.buffer).toString("base64"))?.length).toBe(100_000);
  });
});
