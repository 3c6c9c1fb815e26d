import { monitorEventLoopDelay } from "node:perf_hooks";
import { seededRandom } from "../src/audio/analysis.ts";
import { runInBotProcess } from "./bot-process.ts";
import { Fleet, type GuildRecord, sleep, until } from "./fleet.ts";
import { median, percentile, round } from "./measure.ts";
import type { BenchSection, Figure, Figures } from "./section.ts";
import { SendMonitor } from "./send-monitor.ts";
import { WorldClient } from "./world-client.ts";

/**
 * "capacity": N guilds in one bot process, each with a user taking turns and the bot answering
 * (echo replies of the user's turn) over the loopback servers, which run in a separate world
 * process. Each N runs in a fresh bot process; figures cover a measurement window after warm-up.
 */

const GUILD_COUNTS = [10, 25, 50, 100] as const;
const WARMUP_MS = 4_000;
const WINDOW_MS = 15_000;
/** 3 s of speech per turn; the echo answer is about as long. */
const CLIP_FRAMES = 150;
const FRAME_MS = 20;
const LOOP_DELAY_LIMIT_MS = 20;
const MB = 1024 * 1024;

const collectGarbage = (globalThis as { gc?: () => void }).gc;

async function converse(world: WorldClient, guild: GuildRecord, random: () => number, stop: () => boolean) {
  let clip = Math.floor(random() * 3);
  await sleep(random() * 3_000);
  while (!stop()) {
    const answered = guild.lastItemId;
    await world.speak(guild.guildId, guild.userId, clip++, CLIP_FRAMES);
    await until(() => guild.lastItemId !== answered || stop(), 5_000);
    await until(() => performance.now() - guild.lastBotFrameAt > 300 || stop(), 10_000);
    await sleep(200 + random() * 600);
  }
}

interface InputDrops {
  /** Frames dropped from full jitter queues. */
  readonly jitterQueue: number;
  /** Audio Voice Live never got (send buffer overflow or disconnected), in frames. */
  readonly voiceLiveSend: number;
  /** Clock ticks skipped after event-loop stalls (each one a frame not appended in time). */
  readonly skippedTicks: number;
}

/** Input frames our code lost or refused, summed over the fleet. */
function inputDrops(fleet: Fleet): InputDrops {
  let jitterQueue = 0;
  let voiceLiveSend = 0;
  for (const guild of fleet.guilds) {
    const conversation = fleet.manager.conversation(guild.guildId);
    if (conversation === undefined) continue;
    jitterQueue += conversation.droppedFrames.input;
    voiceLiveSend += conversation.voiceLiveDroppedAudioMs / FRAME_MS;
  }
  return { jitterQueue, voiceLiveSend, skippedTicks: fleet.manager.skippedTicks };
}

function droppedOutput(fleet: Fleet): number {
  let frames = 0;
  for (const guild of fleet.guilds)
    frames += fleet.manager.conversation(guild.guildId)?.droppedFrames.output ?? 0;
  return frames;
}

export async function capacityScenario(args: Readonly<Record<string, number>>): Promise<Figures> {
  const guildCount = args.guilds ?? 10;
  const sends = new SendMonitor();
  const world = await WorldClient.start();
  const fleet = new Fleet({ world, detailed: false });
  let stopped = false;
  const loops: Promise<void>[] = [];
  try {
    collectGarbage?.();
    await sleep(200);
    const rssBefore = process.memoryUsage().rss;
    const joinStarted = performance.now();
    const guilds = await fleet.join(guildCount);
    const joinMs = performance.now() - joinStarted;
    const random = seededRandom(guildCount);
    for (const guild of guilds) loops.push(converse(world, guild, random, () => stopped));
    await sleep(WARMUP_MS);

    await world.resetStats();
    sends.reset();
    fleet.inputHeldMs.length = 0;
    const loopDelay = monitorEventLoopDelay({ resolution: 2 });
    loopDelay.enable();
    const inputDropsBefore = inputDrops(fleet);
    const droppedOutputBefore = droppedOutput(fleet);
    const rss: number[] = [];
    const eluBefore = performance.eventLoopUtilization();
    const cpuBefore = process.cpuUsage();
    const windowStart = performance.now();
    while (performance.now() - windowStart < WINDOW_MS) {
      await sleep(1_000);
      rss.push(process.memoryUsage().rss);
    }
    const cpu = process.cpuUsage(cpuBefore);
    const windowMs = performance.now() - windowStart;
    const sent = sends.stats();
    const mainThreadBusy = performance.eventLoopUtilization(eluBefore).utilization;
    loopDelay.disable();
    const worldStats = await world.stats();
    const inputDropsAfter = inputDrops(fleet);
    const drops = {
      jitterQueue: inputDropsAfter.jitterQueue - inputDropsBefore.jitterQueue,
      voiceLiveSend: round(inputDropsAfter.voiceLiveSend - inputDropsBefore.voiceLiveSend, 1),
      skippedTicks: inputDropsAfter.skippedTicks - inputDropsBefore.skippedTicks,
    };
    const droppedOutputFrames = droppedOutput(fleet) - droppedOutputBefore;
    const input = fleet.inputHeldMs;

    stopped = true;
    await Promise.all(loops);
    await sleep(300);
    const { userFramesSent } = await world.stats();
    let framesReceived = 0;
    for (const guild of guilds) {
      framesReceived +=
        guild.framesMixed + (fleet.manager.conversation(guild.guildId)?.droppedFrames.input ?? 0);
    }
    const cpuPercent = ((cpu.user + cpu.system) / 1000 / windowMs) * 100;
    return {
      guilds: guildCount,
      cpuPerGuildPercent: round(cpuPercent / guildCount, 3),
      cpuPercent: round(cpuPercent, 1),
      mainThreadBusyPercent: round(mainThreadBusy * 100, 1),
      loopDelayP99Ms: round(loopDelay.percentile(99) / 1e6),
      loopDelayMaxMs: round(loopDelay.max / 1e6),
      rssPerConversationMb: round((median(rss) - rssBefore) / MB / guildCount, 2),
      rssMb: round(median(rss) / MB, 1),
      droppedInputFrames: round(drops.jitterQueue + drops.voiceLiveSend + drops.skippedTicks, 1),
      inputDrops: { ...drops },
      droppedOutputFrames,
      lateOutputFrames: sent.lateGaps + worldStats.underruns,
      lateSendGaps: sent.lateGaps,
      maxSendGapMs: sent.maxGapMs,
      underruns: worldStats.underruns,
      lateArrivalGaps: worldStats.lateGaps,
      maxArrivalGapMs: worldStats.maxGapMs,
      inputFramesLost: userFramesSent - framesReceived,
      inputLatencyP99Ms: input.length === 0 ? -1 : round(percentile(input, 99)),
      inputFramesInWindow: input.length,
      outputFramesInWindow: worldStats.nonSilent,
      worldCpuPercent: worldStats.worldCpuPercent,
      worldLoopDelayP99Ms: worldStats.worldLoopDelayP99Ms,
      joinSeconds: round(joinMs / 1000, 1),
    };
  } finally {
    stopped = true;
    await Promise.allSettled(loops);
    await fleet.close();
    await world.close();
    sends.uninstall();
  }
}

function passes(run: Figures): boolean {
  return (
    (run.loopDelayP99Ms as number) < LOOP_DELAY_LIMIT_MS &&
    run.droppedInputFrames === 0 &&
    run.droppedOutputFrames === 0 &&
    run.lateOutputFrames === 0 &&
    run.inputFramesLost === 0
  );
}

export const section: BenchSection = {
  description: `guilds per bot process: ${GUILD_COUNTS.join("/")} concurrent conversations, ${WINDOW_MS / 1000} s window each`,
  targets: [
    { figure: "maxGuildsPerProcess", atLeast: 50 },
    { figure: "rssPerConversationMb", atMost: 8 },
  ],
  async run() {
    const requested = process.env.BENCH_GUILDS?.split(",").map(Number) ?? GUILD_COUNTS;
    const runs: Record<string, Figure> = {};
    let maxGuildsPerProcess = 0;
    let allPassed = true;
    let rssPerConversationMb = 0;
    for (const guilds of requested) {
      const run = await runInBotProcess("capacity", { guilds });
      runs[`n${guilds}`] = run;
      rssPerConversationMb = Math.max(rssPerConversationMb, run.rssPerConversationMb as number);
      allPassed &&= passes(run);
      if (allPassed) maxGuildsPerProcess = guilds;
    }
    return { maxGuildsPerProcess, rssPerConversationMb, ...runs };
  },
};
