import type { LatencyFigures } from "./types.ts";

/**
 * Keeps the most recent latency samples in a fixed ring so recording costs nothing per frame;
 * percentiles are computed only when someone asks (/status, the simulator's report).
 */
export class LatencyRecorder {
  readonly #samples: Float64Array;
  #next = 0;
  #count = 0;

  constructor(capacity = 4096) {
    this.#samples = new Float64Array(capacity);
  }

  record(ms: number): void {
    this.#samples[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#samples.length;
    if (this.#count < this.#samples.length) this.#count++;
  }

  get count(): number {
    return this.#count;
  }

  figures(): LatencyFigures | undefined {
    if (this.#count === 0) return undefined;
    const sorted = this.#samples.slice(0, this.#count).sort();
    return { p50: round(percentile(sorted, 0.5)), p99: round(percentile(sorted, 0.99)) };
  }

  reset(): void {
    this.#next = 0;
    this.#count = 0;
  }
}

function percentile(sorted: Float64Array, q: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index] ?? 0;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
