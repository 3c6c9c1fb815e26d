import { seededRandom } from "../src/audio/analysis.ts";
import {
  type BargeInCut,
  bargeInCut,
  type LeftFrame,
  OutputHoldClock,
  packetsOfHandedFrames,
} from "../src/bridge/figures.ts";
import { runInBotProcess } from "./bot-process.ts";
import { Fleet, type GuildRecord, sleep, until } from "./fleet.ts";
import { median, percentile, round } from "./measure.ts";
import type { BenchSection, Figures } from "./section.ts";
import { WorldClient } from "./world-client.ts";
import type { PacketLog } from "./world-protocol.ts";

/**
 * "bridge": what our code adds between Discord and Voice Live, from simulated conversations over
 * the loopback servers (the world runs in its own process). Every user turn is interrupted by the
 * next one at a random moment of the bot's answer, so the same run yields latencies and barge-ins.
 * Definitions (the simulator's): see BENCHMARKS.md.
 */

const GUILDS = 5;
const INTERRUPTIONS_PER_GUILD = 5;
/** 2.4 s of each clip: 0.3 s of room noise, then speech. */
const CLIP_FRAMES = 120;
/** The interrupting turn starts this long at most after the answer's first frame (answers last ~2.7 s;
 * speech_started follows about 0.5 s into the turn). */
const MAX_INTERRUPT_DELAY_MS = 1_500;

export interface OutputPairing {
  /** Hold time of each paired frame, ms. */
  readonly heldMs: number[];
  /** Each paired frame: its item, when it was handed over, and when the world captured it (bot clock). */
  readonly frames: LeftFrame[];
  /** Frames handed to the player minus non-silent packets captured (0 when every frame arrived). */
  readonly unpaired: number;
}

/** Pairs the frames handed to the player with the packets the world captured; hold times as defined in figures.ts. */
export function pairOutput(record: GuildRecord, packets: PacketLog): OutputPairing {
  const carriers = packetsOfHandedFrames(
    record.sentFrames.length,
    packets.at.length,
    (p) => packets.silent[p] === 1,
  );
  const clock = new OutputHoldClock();
  const heldMs: number[] = [];
  const frames: LeftFrame[] = [];
  carriers.forEach((packet, k) => {
    const frame = record.sentFrames[k]!;
    const leftAt = packets.at[packet]!;
    heldMs.push(clock.heldMs(leftAt, frame.audioReceivedAt));
    frames.push({ itemId: frame.itemId, handedAt: frame.at, leftAt });
  });
  let nonSilent = 0;
  for (let p = 0; p < packets.silent.length; p++) if (packets.silent[p] === 0) nonSilent++;
  return { heldMs, frames, unpaired: record.sentFrames.length - nonSilent };
}

async function interruptions(
  world: WorldClient,
  guild: GuildRecord,
  index: number,
  random: () => number,
): Promise<void> {
  let clip = index;
  await sleep(index * 400);
  await world.speak(guild.guildId, guild.userId, clip++, CLIP_FRAMES);
  for (let i = 0; i < INTERRUPTIONS_PER_GUILD; i++) {
    const answered = guild.lastItemId;
    if (!(await until(() => guild.lastItemId !== answered, 10_000))) {
      throw new Error(`guild ${guild.guildId}: no answer to turn ${i}`);
    }
    await sleep(random() * MAX_INTERRUPT_DELAY_MS);
    await world.speak(guild.guildId, guild.userId, clip++, CLIP_FRAMES);
  }
  const last = guild.lastItemId;
  await until(() => guild.lastItemId !== last, 10_000);
  await until(() => performance.now() - guild.lastBotFrameAt > 500, 10_000);
}

export async function bridgeScenario(): Promise<Figures> {
  const world = await WorldClient.start();
  const fleet = new Fleet({ world, detailed: true });
  try {
    const guilds = await fleet.join(GUILDS);
    await world.record(guilds.map((guild) => guild.guildId));
    const random = seededRandom(0xb1d6e);
    const started = await world.syncClock();
    await Promise.all(guilds.map((guild, i) => interruptions(world, guild, i, random)));
    const ended = await world.syncClock();

    const held: number[] = [];
    const outcomes: BargeInCut[] = [];
    let unpaired = 0;
    for (const guild of guilds) {
      const pairing = pairOutput(guild, await world.packets(guild.guildId));
      held.push(...pairing.heldMs);
      unpaired += Math.abs(pairing.unpaired);
      outcomes.push(...guild.bargeIns.map((bargeIn) => bargeInCut(bargeIn.at, pairing.frames)));
    }
    const input = fleet.inputHeldMs;
    const framesAfter = outcomes.map((o) => o.framesAfter);
    return {
      inputLatencyP50Ms: round(percentile(input, 50)),
      inputLatencyP99Ms: round(percentile(input, 99)),
      outputLatencyP50Ms: round(percentile(held, 50)),
      outputLatencyP99Ms: round(percentile(held, 99)),
      bargeInFramesAfter: outcomes.length === 0 ? -1 : Math.max(...framesAfter),
      bargeInFramesAfterMedian: outcomes.length === 0 ? -1 : median(framesAfter),
      bargeInReactionP99Ms:
        outcomes.length === 0
          ? -1
          : round(
              percentile(
                outcomes.map((o) => o.reactionMs),
                99,
              ),
            ),
      interruptions: outcomes.length,
      inputFrames: input.length,
      outputFrames: held.length,
      unpairedOutputFrames: unpaired,
      clockSyncErrorMs: round(Math.max(started.errorMs, ended.errorMs), 3),
      clockDriftMs: round(Math.abs(ended.offsetMs - started.offsetMs), 3),
      guilds: GUILDS,
    };
  } finally {
    await fleet.close();
    await world.close();
  }
}

export const section: BenchSection = {
  description: `bot bridge over loopback: ${GUILDS} guilds, every answer interrupted at a random moment (ms, frames)`,
  targets: [
    { figure: "inputLatencyP99Ms", atMost: 25 },
    { figure: "outputLatencyP99Ms", atMost: 30 },
    { figure: "bargeInFramesAfter", atMost: 1 },
    { figure: "interruptions", atLeast: 20 },
  ],
  async run() {
    const bridge = await runInBotProcess("bridge", {});
    const naive = await runInBotProcess("naive-playback", {});
    const ours = bridge.bargeInFramesAfter as number;
    const naiveFrames = naive.bargeInFramesAfter as number;
    return {
      ...bridge,
      naive: {
        ...naive,
        ratioBargeInFramesAfter: round(naiveFrames / Math.max(1, ours), 1),
      },
    };
  },
};
