import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import type { LoopbackDiscord, SimGuildHandle } from "../../src/sim/discord/index.ts";

/** What the sharding tests need to know of guilds and shard processes. */

/** The shard Discord routes a guild to. */
export const shardOf = (guildId: string, shards: number): number =>
  Number((BigInt(guildId) >> 22n) % BigInt(shards));

/** Guilds until each of `shards` owns at least `each` (guild ids carry their creation time). */
export async function guildsOnEveryShard(
  discord: LoopbackDiscord,
  first: SimGuildHandle,
  shards: number,
  each: number,
): Promise<SimGuildHandle[]> {
  const guilds: SimGuildHandle[] = [first];
  const short = () =>
    Array.from({ length: shards }, (_, shard) => shard).some(
      (shard) => guilds.filter((guild) => shardOf(guild.id, shards) === shard).length < each,
    );
  while (short()) {
    await new Promise((resolve) => setTimeout(resolve, 1));
    guilds.push(discord.addGuild());
  }
  return guilds;
}

export function childPids(pid: number): number[] {
  try {
    return execFileSync("pgrep", ["-P", String(pid)], { encoding: "utf8" })
      .split("\n")
      .filter((line) => line !== "")
      .map(Number);
  } catch {
    return [];
  }
}

/** The shard process (a child of the manager `pid`) running shard `shard`, from its environment. */
export function shardProcess(pid: number, shard: number): number | undefined {
  return childPids(pid).find((child) => {
    try {
      return readFileSync(`/proc/${child}/environ`, "utf8").split("\0").includes(`SHARDS=${shard}`);
    } catch {
      return false;
    }
  });
}

/** How many shards of a manager's output have logged in. */
export const readyShards = (stdout: string): number => (stdout.match(/connected to Discord/g) ?? []).length;
