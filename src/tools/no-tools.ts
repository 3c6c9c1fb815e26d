import type { ToolRunner } from "../bridge/ports.ts";

/** For conversations without a Discord guild behind them (benchmarks, the bare simulator): none. */
export const NO_TOOLS: ToolRunner = {
  definitions: () => [],
  run: async () => ({
    output: JSON.stringify({ error: "refused", reason: "No tools here." }),
    allowed: false,
  }),
};
