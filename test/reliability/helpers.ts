import { Writable } from "node:stream";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { seededRandom } from "../../src/audio/analysis.ts";
import { createLogger, type Logger } from "../../src/log.ts";

/**
 * Shared pieces of the reliability suites: quick counts under `npm test`, full ones under
 * `npm run soak` (SOAK=full); a seeded PRNG (SEED=<n> reruns a failure, other seeds explore);
 * heap figures after a real GC; and a count of the process's active handles by type.
 */

export const FULL_SOAK = process.env.SOAK === "full";

/** `quick` under npm test, `full` under npm run soak. */
export function scaled(quick: number, full: number): number {
  return FULL_SOAK ? full : quick;
}

/** SEED from the environment (decimal or 0x hex), else the suite's default. */
export function seedFromEnv(fallback: number): number {
  const raw = process.env.SEED;
  if (raw === undefined || raw.trim() === "") return fallback;
  const seed = Number(raw.trim());
  if (!Number.isSafeInteger(seed)) throw new Error(`SEED must be an integer, got ${JSON.stringify(raw)}`);
  return seed >>> 0;
}

/** Deterministic choices for one suite run. */
export class Rng {
  readonly seed: number;
  readonly #next: () => number;

  constructor(seed: number) {
    this.seed = seed;
    this.#next = seededRandom(seed);
  }

  /** [0, 1) */
  float(): number {
    return this.#next();
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.#next() * n);
  }

  /** An integer in [min, max]. */
  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  chance(p: number): boolean {
    return this.#next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("pick from an empty list");
    return items[this.int(items.length)]!;
  }

  /** Picks by weight: `[[weight, value], ...]`. */
  weighted<T>(table: readonly (readonly [number, T])[]): T {
    let total = 0;
    for (const [weight] of table) total += weight;
    let roll = this.#next() * total;
    for (const [weight, value] of table) {
      roll -= weight;
      if (roll < 0) return value;
    }
    return table[table.length - 1]![1];
  }

  bytes(length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) out[i] = this.int(256);
    return out;
  }
}

let collect: (() => void) | undefined;

/** Runs a full GC (enabling `gc` for this process on first use) and returns the figures after it. */
export function memoryAfterGc(): { heapUsed: number; arrayBuffers: number; rss: number } {
  if (collect === undefined) {
    setFlagsFromString("--expose-gc");
    collect = runInNewContext("gc") as () => void;
  }
  collect();
  collect();
  const usage = process.memoryUsage();
  return { heapUsed: usage.heapUsed, arrayBuffers: usage.arrayBuffers, rss: usage.rss };
}

export const MiB = 1024 * 1024;

export function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

/** Active libuv handles and requests by type (TCPWrap, UDPWrap, Timeout, ...). */
export function activeResources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

/** Types with more active resources now than in `baseline`, as "Type: before -> now". */
export function resourcesAbove(baseline: ReadonlyMap<string, number>): string[] {
  const excess: string[] = [];
  for (const [type, count] of activeResources()) {
    const before = baseline.get(type) ?? 0;
    if (count > before) excess.push(`${type}: ${before} -> ${count}`);
  }
  return excess;
}

/** Waits (up to `settleMs`) for the active resources to fall back to `baseline`; returns what is left. */
export async function settleToBaseline(
  baseline: ReadonlyMap<string, number>,
  settleMs = 5_000,
): Promise<string[]> {
  const deadline = performance.now() + settleMs;
  let excess = resourcesAbove(baseline);
  while (excess.length > 0 && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    excess = resourcesAbove(baseline);
  }
  return excess;
}

/** Lets the event loop run I/O (sockets, timers) between bursts of synchronous work. */
export function yieldToIo(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Records unhandled rejections and uncaught exceptions while installed; vitest would too, later. */
export function trapProcessErrors(): { readonly errors: unknown[]; dispose(): void } {
  const errors: unknown[] = [];
  const onError = (error: unknown): void => {
    errors.push(error);
  };
  process.on("unhandledRejection", onError);
  process.on("uncaughtException", onError);
  return {
    errors,
    dispose() {
      process.off("unhandledRejection", onError);
      process.off("uncaughtException", onError);
    },
  };
}

/** pino's numeric level for `error`. */
const ERROR_LEVEL = 50;

/**
 * A logger at `level` that keeps only lines at error level or above (and counts the rest), so a
 * storm of warnings about bad input costs no memory while a listener that threw is still seen.
 */
export function errorCapturingLogger(level: "warn" | "info" | "debug" = "warn"): {
  readonly logger: Logger;
  readonly errors: string[];
  readonly counts: { lines: number };
} {
  const errors: string[] = [];
  const counts = { lines: 0 };
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line === "") continue;
        counts.lines++;
        const parsed = JSON.parse(line) as { level?: number };
        if ((parsed.level ?? 0) >= ERROR_LEVEL && errors.length < 100) errors.push(line.slice(0, 2_000));
      }
      callback();
    },
  });
  return { logger: createLogger({ level, destination }), errors, counts };
}
