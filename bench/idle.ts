import { runInBotProcess } from "./bot-process.ts";
import { Fleet, sleep, until } from "./fleet.ts";
import { round } from "./measure.ts";
import type { BenchSection, Figures } from "./section.ts";
import { WorldClient } from "./world-client.ts";

/**
 * "idle": what a joined channel costs while nobody speaks. Timing rule 1 says nothing at all is
 * appended once the silence tail after the last speech has passed, and the bot sends no audio.
 * Measured over a shortened window and scaled to a minute, for guilds that never heard anyone and
 * for one whose conversation (a user's turn and the bot's answer) has just ended.
 */

const WINDOW_MS = 20_000;
const IDLE_GUILDS = 10;
/** After the answer ends: the persona's silence_duration_ms (500) + 500 ms of tail, with margin. */
const SETTLE_MS = 1_500;
const CLIP_FRAMES = 150;

export async function idleScenario(): Promise<Figures> {
  const world = await WorldClient.start();
  const fleet = new Fleet({ world, detailed: false });
  try {
    const [talked] = await fleet.join(1);
    const idle = await fleet.join(IDLE_GUILDS);
    await world.speak(talked!.guildId, talked!.userId, 0, CLIP_FRAMES);
    await until(() => talked!.lastItemId !== undefined, 5_000);
    await until(() => performance.now() - talked!.lastBotFrameAt > 300, 10_000);
    await sleep(SETTLE_MS);

    await world.resetStats();
    const appendedBefore = fleet.guilds.map((guild) => guild.appendedMs);
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    await sleep(WINDOW_MS);
    const cpu = process.cpuUsage(cpuBefore);
    const elapsed = performance.now() - started;
    const stats = await world.stats();
    const perMinute = (ms: number): number => round((ms * 60_000) / elapsed, 1);
    const appended = fleet.guilds.map((guild, i) => guild.appendedMs - appendedBefore[i]!);
    const afterTurn = perMinute(appended[0]!);
    const freshJoin = perMinute(Math.max(...appended.slice(1)));
    const botPackets = stats.perGuild;
    const packetsIn = (guilds: readonly { guildId: string }[]): number =>
      guilds.reduce((sum, guild) => sum + (botPackets[guild.guildId]?.packets ?? 0), 0);
    return {
      audioMsAppendedPerIdleMinute: Math.max(afterTurn, freshJoin),
      audioMsAppendedPerIdleMinuteAfterTurn: afterTurn,
      audioMsAppendedPerIdleMinuteFreshJoin: freshJoin,
      botPacketsPerIdleMinute: perMinute(packetsIn(fleet.guilds)),
      cpuPerIdleGuildPercent: round(
        ((cpu.user + cpu.system) / 1000 / elapsed / fleet.guilds.length) * 100,
        3,
      ),
      answerFramesBeforeWindow: talked!.botFramesSent,
      windowS: round(elapsed / 1000, 1),
      guilds: fleet.guilds.length,
      idleGuilds: idle.length,
    };
  } finally {
    await fleet.close();
    await world.close();
  }
}

export const section: BenchSection = {
  description: `idle channels: ${IDLE_GUILDS} joined guilds nobody spoke in, and one after a finished turn`,
  targets: [
    { figure: "audioMsAppendedPerIdleMinute", atMost: 0 },
    { figure: "botPacketsPerIdleMinute", atMost: 0 },
  ],
  run: () => runInBotProcess("idle", {}),
};
