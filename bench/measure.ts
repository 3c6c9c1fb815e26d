/** Timing helpers for the benchmark sections: warm up, then the median of many timed batches. */

export interface MeasureOptions {
  /** Calls before timing starts, so the JIT has optimised the code under test. */
  readonly warmupCalls?: number;
  /** Timed batches; the median batch is reported, so a GC pause or a busy neighbour is ignored. */
  readonly batches?: number;
  /** Calls per batch: enough that one batch spans well over the timer's resolution. */
  readonly callsPerBatch?: number;
}

const collectGarbage = (globalThis as { gc?: () => void }).gc;

/**
 * Median microseconds per call of `call`. `call` gets the call index, so it can cycle through
 * realistic inputs instead of repeating one (branch predictors and caches would flatter it).
 */
export function medianMicroseconds(call: (index: number) => void, options: MeasureOptions = {}): number {
  const warmupCalls = options.warmupCalls ?? 500;
  const batches = options.batches ?? 41;
  const callsPerBatch = options.callsPerBatch ?? 50;
  let index = 0;
  for (let i = 0; i < warmupCalls; i++) call(index++);
  collectGarbage?.();
  const perCall: number[] = [];
  for (let batch = 0; batch < batches; batch++) {
    const start = performance.now();
    for (let i = 0; i < callsPerBatch; i++) call(index++);
    perCall.push(((performance.now() - start) * 1000) / callsPerBatch);
  }
  return median(perCall);
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Nearest-rank percentile (0-100) of `values`. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new RangeError("percentile of no values");
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/** Rounds a figure for the report (two decimals is plenty for microseconds and dB). */
export function round(value: number, decimals = 2): number {
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
}
