import { readFileSync } from "node:fs";
import { seededRandom } from "../src/audio/analysis.ts";
import { encodeMonoSignal } from "../src/audio/opus-stream.ts";
import { readWav } from "../src/audio/wav.ts";
import { createLogger } from "../src/log.ts";
import { trustLoopbackCertificate } from "../src/sim/tls.ts";
import { ManagedVoiceConnection } from "../src/voice/connection.ts";
import { OpusQueuePlayer } from "../src/voice/opus-queue-player.ts";
import { sleep, until } from "./fleet.ts";
import { median, round } from "./measure.ts";
import type { Figures } from "./section.ts";
import { WorldClient } from "./world-client.ts";

/**
 * The barge-in baseline: a bot that encodes every reply delta as it arrives and queues it all in
 * the player (what a straightforward port does), and on barge-in stops taking deltas but does not
 * flush what is queued. Same player, same loopback server, same timing as the "bridge" scenario:
 * replies of 2.7 s arriving at 4x real time, interrupted 0.5-2 s after their first frame. A control
 * run of the same harness flushes at the barge-in, so the ratio compares like with like.
 */

const GUILDS = 5;
const TRIALS_PER_GUILD = 4;
const REPLY_FRAMES = 135;
/** The local Voice Live server's delivery: 100 ms deltas at 4x real time. */
const DELTA_FRAMES = 5;
const DELTA_INTERVAL_MS = 25;
const MIN_BARGE_IN_MS = 500;
const MAX_BARGE_IN_MS = 2_000;

function replyFrames(): Buffer[] {
  const url = new URL("../test/fixtures/speech-weather-question.wav", import.meta.url);
  const { samples } = readWav(readFileSync(url));
  // Skip the clip's quiet lead-in: every reply frame is speech.
  return encodeMonoSignal(samples, { skipFrames: 15, maxFrames: REPLY_FRAMES });
}

interface Trial {
  readonly startedAt: number;
  readonly bargeInAt: number;
  readonly flushed: boolean;
}

async function playAndInterrupt(
  player: OpusQueuePlayer,
  frames: readonly Buffer[],
  flush: boolean,
  delayMs: number,
): Promise<Trial> {
  const startedAt = performance.now();
  let firstSentAt: number | undefined;
  const unsubscribe = player.onFrameSent(() => {
    firstSentAt ??= performance.now();
  });
  let delivered = 0;
  let cancelled = false;
  const delivery = (async () => {
    while (!cancelled && delivered < frames.length) {
      for (let i = 0; i < DELTA_FRAMES && delivered < frames.length; i++)
        player.enqueue(frames[delivered++]!);
      if (delivered === frames.length) player.markComplete();
      await sleep(DELTA_INTERVAL_MS);
    }
  })();
  await until(() => firstSentAt !== undefined, 5_000);
  await sleep(Math.max(0, firstSentAt! + delayMs - performance.now()));
  const bargeInAt = performance.now();
  cancelled = true;
  if (flush) player.flush();
  await delivery;
  await until(() => !player.playing, 10_000);
  unsubscribe();
  await sleep(300);
  return { startedAt, bargeInAt, flushed: flush };
}

export async function naivePlaybackScenario(): Promise<Figures> {
  trustLoopbackCertificate();
  const world = await WorldClient.start();
  const frames = replyFrames();
  const random = seededRandom(0x0a1e);
  const logger = createLogger({ level: "error", pretty: false });
  const connections: ManagedVoiceConnection[] = [];
  const players: OpusQueuePlayer[] = [];
  try {
    const guildIds = Array.from({ length: GUILDS }, (_, i) => `9${String(i).padStart(17, "0")}`);
    for (const guildId of guildIds) {
      const adapterCreator = await world.prepareGuild({
        guildId,
        channelId: `8${guildId.slice(1)}`,
        botUserId: "700000000000000000",
        userIds: [],
      });
      const channelId = `8${guildId.slice(1)}`;
      const voice = new ManagedVoiceConnection({ guildId, channelId, adapterCreator, logger });
      connections.push(voice);
      await voice.ready();
      const player = new OpusQueuePlayer({ logger });
      player.attach(voice.connection);
      players.push(player);
    }
    await world.record(guildIds);
    await world.syncClock();
    const trials = await Promise.all(
      players.map(async (player, g) => {
        await sleep(g * 150);
        const done: Trial[] = [];
        for (let t = 0; t < 2 * TRIALS_PER_GUILD; t++) {
          const delay = MIN_BARGE_IN_MS + random() * (MAX_BARGE_IN_MS - MIN_BARGE_IN_MS);
          done.push(await playAndInterrupt(player, frames, t % 2 === 1, delay));
        }
        return done;
      }),
    );
    await world.syncClock();
    const naive: number[] = [];
    const control: number[] = [];
    for (let g = 0; g < GUILDS; g++) {
      const log = await world.packets(guildIds[g]!);
      const guildTrials = trials[g]!;
      guildTrials.forEach((trial, t) => {
        const nextStart = guildTrials[t + 1]?.startedAt ?? Number.POSITIVE_INFINITY;
        let after = 0;
        for (let p = 0; p < log.at.length; p++) {
          if (log.silent[p] === 0 && log.at[p]! > trial.bargeInAt && log.at[p]! < nextStart) after++;
        }
        (trial.flushed ? control : naive).push(after);
      });
    }
    return {
      bargeInFramesAfter: Math.max(...naive),
      bargeInFramesAfterMedian: median(naive),
      interruptions: naive.length,
      flushedControlFramesAfter: Math.max(...control),
      replyFrames: REPLY_FRAMES,
      bargeInWindowMs: [MIN_BARGE_IN_MS, MAX_BARGE_IN_MS],
      meanFramesAfter: round(naive.reduce((sum, n) => sum + n, 0) / naive.length, 1),
    };
  } finally {
    for (const player of players) player.destroy();
    for (const voice of connections) voice.leave("benchmark over");
    await world.close();
  }
}
