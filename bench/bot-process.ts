import { fork } from "node:child_process";
import type { Figures } from "./section.ts";

/**
 * Runs a scenario in a fresh "bot" child process (bench/bot-main.ts), which in turn starts its own
 * world. A fresh process per run keeps runs independent: no codec heaps, voice connections or
 * garbage left by an earlier section, and an RSS baseline that means something.
 * BENCH_CPU_PROF=<dir> writes a V8 CPU profile of each bot process there (see BENCHMARKS.md).
 */

export type ScenarioName = "bridge" | "naive-playback" | "capacity" | "idle";

export function runInBotProcess(
  scenario: ScenarioName,
  args: Readonly<Record<string, number>>,
): Promise<Figures> {
  const profileDir = process.env.BENCH_CPU_PROF;
  const child = fork(new URL("./bot-main.ts", import.meta.url), [scenario, JSON.stringify(args)], {
    execArgv: [
      "--disable-warning=ExperimentalWarning",
      "--expose-gc",
      ...(profileDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profileDir}`]),
    ],
    serialization: "advanced",
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    let result: Figures | undefined;
    let failure: string | undefined;
    child.on("message", (message: { figures?: Figures; error?: string }) => {
      result = message.figures;
      failure = message.error;
    });
    child.once("error", reject);
    child.once("exit", (code) => {
      if (result !== undefined) resolve(result);
      else reject(new Error(`bench ${scenario} process exited (${code}): ${failure ?? "no result"}`));
    });
  });
}
