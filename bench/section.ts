/** What a benchmark section is: a module under bench/ that measures one area and returns figures. */

export type Figure =
  | number
  | string
  | boolean
  | null
  | readonly Figure[]
  | { readonly [key: string]: Figure };

export type Figures = { readonly [key: string]: Figure };

/** A figure's acceptance bound, checked and printed by bench/run.ts. `figure` is a dotted path. */
export interface Target {
  readonly figure: string;
  readonly atMost?: number;
  readonly atLeast?: number;
}

export interface BenchSection {
  readonly description: string;
  readonly targets?: readonly Target[];
  /** Returns JSON-serialisable figures; everything it starts must be stopped before it resolves. */
  run(): Promise<Figures>;
}
