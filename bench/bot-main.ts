/**
 * Entry of a benchmark bot process (started by bench/bot-process.ts): runs one scenario and sends
 * its figures to the parent. argv: <scenario> <JSON arguments>.
 */
import type { ScenarioName } from "./bot-process.ts";
import type { Figures } from "./section.ts";

type Scenario = (args: Readonly<Record<string, number>>) => Promise<Figures>;

const SCENARIOS: Readonly<Record<ScenarioName, () => Promise<Scenario>>> = {
  bridge: async () => (await import("./bridge.ts")).bridgeScenario,
  "naive-playback": async () => (await import("./naive-playback.ts")).naivePlaybackScenario,
  capacity: async () => (await import("./capacity.ts")).capacityScenario,
  idle: async () => (await import("./idle.ts")).idleScenario,
};

const [name, json] = process.argv.slice(2);
const send = process.send?.bind(process);
const reply = (message: { figures?: Figures; error?: string }): Promise<void> =>
  new Promise((resolve) => (send === undefined ? resolve() : send(message, () => resolve())));
try {
  if (send === undefined) throw new Error("bench/bot-main.ts runs as a child process with an IPC channel");
  if (name === undefined || !(name in SCENARIOS)) throw new Error(`unknown scenario ${name}`);
  const scenario = await SCENARIOS[name as ScenarioName]();
  const figures = await scenario(JSON.parse(json ?? "{}") as Record<string, number>);
  await reply({ figures });
} catch (error) {
  console.error(error);
  await reply({ error: String(error) });
  process.exitCode = 1;
}
process.disconnect?.();
// Anything still holding the loop (a library timer) must not keep a finished run alive.
setTimeout(() => process.exit(), 500).unref();
