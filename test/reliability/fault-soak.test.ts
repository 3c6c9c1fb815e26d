import { afterEach, describe, expect, it } from "vitest";
import { sleep, waitFor } from "../sim/voice-test-kit.ts";
import {
  activeResources,
  errorCapturingLogger,
  FULL_SOAK,
  Rng,
  scaled,
  seedFromEnv,
  settleToBaseline,
  trapProcessErrors,
} from "./helpers.ts";
import { type Rig, startRig } from "./rig.ts";

/**
 * Forced failures at random points of a live conversation (manager + the real @discordjs/voice
 * client on the loopback voice server + the local Voice Live server): Voice Live sockets dropped
 * or closed mid-response, mid-append, while a session.update is in flight or while reconnecting;
 * Discord voice closed with 1006, 4015 and 4006. After every fault a spoken turn is answered with
 * bot audio in the channel; after leaving and closing the servers no handle is left behind.
 */

const SEED = seedFromEnv(0x5eed_fa17);
const FAULTS = scaled(8, 100);
const ATTEMPTS = 3;

const FAULT_KINDS = [
  "vl-terminate",
  "vl-close",
  "vl-close-after-frames",
  "vl-drop-during-update",
  "vl-drop-while-reconnecting",
  "discord-1006",
  "discord-4015",
  "discord-4006",
] as const;
type FaultKind = (typeof FAULT_KINDS)[number];
const PHASES = ["idle", "mid-append", "mid-response"] as const;
type Phase = (typeof PHASES)[number];
/** Codes a service closes with that are worth a reconnect (1008 means "do not retry", by design). */
const VOICE_LIVE_CLOSE_CODES = [1001, 1011, 1012, 1013, 4000];

let rig: Rig | undefined;

afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

describe(`fault soak (SEED=${SEED}, ${FAULTS} faults)`, () => {
  it(
    "answers a spoken turn after every fault and leaves no handle behind",
    async () => {
      const trap = trapProcessErrors();
      const rng = new Rng(SEED);
      const captured = errorCapturingLogger();
      try {
        // Process-wide singletons (the shared output encoder worker) start with the first
        // conversation and stay for the process's life: the baseline includes them.
        const first = await startRig({ logger: captured.logger });
        await first.join();
        await first.close();
        const baseline = activeResources();

        const r = await startRig({ logger: captured.logger });
        rig = r;
        await r.join();
        const { local, voice, guildId, notices } = r;

        let temperature = 0.8;
        const inject = async (kind: FaultKind): Promise<void> => {
          switch (kind) {
            case "vl-terminate":
              local.terminateAll();
              return;
            case "vl-close":
              local.closeAll(rng.pick(VOICE_LIVE_CLOSE_CODES), "soak");
              return;
            case "vl-close-after-frames":
              local.closeAfterEvents(rng.range(1, 12), rng.pick(VOICE_LIVE_CLOSE_CODES), "open");
              return;
            case "vl-drop-during-update": {
              temperature = temperature === 0.8 ? 0.9 : 0.8;
              const applying = r.manager.applySettings(guildId, r.settings(temperature));
              local.terminateAll();
              const outcome = await applying.catch((error: unknown) => String(error));
              expect(outcome, `SEED=${SEED}: a drop is not the service rejecting the persona`).toBe(
                "applied",
              );
              return;
            }
            case "vl-drop-while-reconnecting":
              // The next session closes right after session.created or session.updated.
              local.closeAfterEvents(rng.range(1, 2), rng.pick(VOICE_LIVE_CLOSE_CODES), "next");
              local.terminateAll();
              return;
            case "discord-1006":
              voice.disconnect(guildId, "terminate");
              return;
            case "discord-4015":
              voice.disconnect(guildId, 4015);
              return;
            case "discord-4006":
              voice.disconnect(guildId, 4006);
              return;
          }
        };

        const log: string[] = [];
        let retries = 0;
        let slowest = 0;
        for (let n = 0; n < FAULTS; n++) {
          // Every kind at least once (a quick run is exactly that), then random.
          const kind = n < FAULT_KINDS.length ? FAULT_KINDS[n]! : rng.pick(FAULT_KINDS);
          // Armed while the user speaks, it fires somewhere between speech_started and the answer's end.
          const phase: Phase = kind === "vl-close-after-frames" ? "mid-append" : rng.pick(PHASES);
          const where = `SEED=${SEED}, fault ${n + 1}/${FAULTS}: ${kind} ${phase} (${log.slice(-4).join("; ")})`;
          await waitFor(r.bothReady, `ready before ${where}`, 15_000);
          await r.quiet();
          const started = performance.now();
          const noticesBefore = notices.length;
          let injected: Promise<void> | undefined;
          const fire = (): void => {
            injected ??= inject(kind);
          };
          if (phase === "idle") fire();
          else if (phase === "mid-append") await r.speak(fire, () => rng.float());
          else if (!(await r.turn(fire))) fire();
          fire();
          await injected;
          // A Voice Live fault has taken effect once the channel is told (a delayed close may still be armed).
          if (kind.startsWith("vl-"))
            await waitFor(() => notices.length > noticesBefore, `the notice of ${where}`);
          else await sleep(50);

          let answered = false;
          let attempts = 0;
          while (attempts < ATTEMPTS && !answered) {
            attempts++;
            await waitFor(r.bothReady, `recovery after ${where}`, 15_000);
            await r.quiet();
            answered = await r.turn();
            if (!answered) retries++;
          }
          expect(answered, `no answer after ${where}`).toBe(true);
          // The channel hears of a Voice Live outage once (twice when the fault is two drops with a
          // recovery between), and nothing of Discord's own reconnects.
          const newNotices = notices.slice(noticesBefore);
          if (kind.startsWith("vl-")) {
            expect(newNotices.length, where).toBeLessThanOrEqual(
              kind === "vl-drop-while-reconnecting" ? 2 : 1,
            );
            for (const notice of newNotices)
              expect(notice, where).toMatch(/^Lost the connection to the voice service/);
          } else {
            expect(newNotices, where).toEqual([]);
          }
          const tookMs = Math.round(performance.now() - started);
          slowest = Math.max(slowest, tookMs);
          log.push(`${kind} ${phase} ${tookMs} ms${attempts > 1 ? ` (${attempts} turns)` : ""}`);
          expect(captured.errors, where).toEqual([]);
          expect(trap.errors, where).toEqual([]);
        }
        console.info(
          `fault soak SEED=${SEED}: ${FAULTS} faults, ${retries} turns repeated, slowest recovery ${slowest} ms, ` +
            `${local.clientEvents.length} Voice Live sessions, ${notices.length} notices` +
            (FULL_SOAK ? "" : `: ${log.join("; ")}`),
        );

        rig = undefined;
        await r.close();
        expect(await settleToBaseline(baseline), `SEED=${SEED}: handles left after leaving`).toEqual([]);
        expect(trap.errors).toEqual([]);
      } finally {
        trap.dispose();
      }
    },
    scaled(90_000, 1_200_000),
  );
});
