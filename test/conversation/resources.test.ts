import { createHook } from "node:async_hooks";
import { describe, expect, it } from "vitest";
import { SimHarness } from "../../src/sim/harness.ts";
import { waitFor } from "../sim/voice-test-kit.ts";
import { fixtureFrames } from "./helpers.ts";

/**
 * /leave frees everything the conversation held: once it has left (with speech just heard and an
 * answer still playing), the process holds no more sockets or timers than the two loopback servers
 * did before the join; once they close too, no more than before anything started.
 *
 * process.getActiveResourcesInfo() lists only what keeps the loop alive, so unref'd timers (this
 * code base unrefs its housekeeping, ping and rollover timers) are also tracked through async_hooks:
 * every timer the bot path creates must have fired or been cleared by the end.
 */

type Counts = Map<string, number>;

function counts(): Counts {
  const map: Counts = new Map();
  for (const type of process.getActiveResourcesInfo()) map.set(type, (map.get(type) ?? 0) + 1);
  return map;
}

/** Handle types of which there are more now than in `baseline`. */
function excess(baseline: Counts): string[] {
  return [...counts()]
    .filter(([type, n]) => n > (baseline.get(type) ?? 0))
    .map(([type, n]) => `${type}: ${baseline.get(type) ?? 0} -> ${n}`);
}

/** Closing handles leave the list a few ticks after their close callbacks. */
async function settles(check: () => string[]): Promise<string[]> {
  await waitFor(() => check().length === 0, "handles to close", 3_000).catch(() => undefined);
  return check();
}

/** Timers and immediates created by the code under test (not the test runner or this file) still pending. */
function trackTimers(): { pending: () => string[]; stop: () => void } {
  const live = new Map<number, string>();
  const hook = createHook({
    init(id, type) {
      if (type !== "Timeout" && type !== "Immediate") return;
      // The first frame outside the hook and Node's internals is whoever made the timer.
      const creator = (new Error().stack ?? "")
        .split("\n")
        .slice(2)
        .find((line) => !/\(node:|at node:/.test(line));
      if (creator === undefined || /vitest|[/\\]test[/\\]/.test(creator)) return;
      live.set(id, `${type} from ${creator.trim()}`);
    },
    destroy(id) {
      live.delete(id);
    },
  });
  hook.enable();
  return { pending: () => [...live.values()], stop: () => hook.disable() };
}

describe("leaving", () => {
  it("frees every timer and socket the conversation and the servers used", async () => {
    const beforeStart = counts();
    const timers = trackTimers();
    try {
      const harness = await SimHarness.start({ backend: { kind: "local", speed: 1 } });
      try {
        const serversOnly = counts();
        const guild = await harness.join();
        const user = await guild.addUser();
        const spokeAt = performance.now();
        await guild.speak(user, { pcm: fixtureFrames("speech-weather-question.wav", 1500) });
        await guild.waitForBotAudio(spokeAt, 10_000);
        expect(guild.status()?.botSpeaking).toBe(true);
        expect(excess(serversOnly)).not.toEqual([]);
        expect(timers.pending()).not.toEqual([]);

        expect(await guild.leave("/leave")).toBe(true);
        expect(harness.manager.size).toBe(0);
        expect(await settles(() => excess(serversOnly))).toEqual([]);
      } finally {
        await harness.close();
      }
      expect(await settles(() => excess(beforeStart))).toEqual([]);
      expect(await settles(timers.pending)).toEqual([]);
    } finally {
      timers.stop();
    }
  });
});
