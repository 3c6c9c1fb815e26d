import { execFileSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import type { SimGuildHandle } from "../../src/sim/discord/index.ts";
import { waitFor } from "../sim/harness.ts";
import { type BotProcess, logMessages, startBotProcess } from "./bot-process.ts";

/**
 * `npm start` with SHARD_COUNT=auto against a loopback Discord that recommends 2 shards: the
 * sharding manager runs one bot process per shard, each guild is served by the shard Discord
 * routes it to, a shard killed with SIGKILL comes back, and SIGTERM stops them all cleanly.
 */

let bot: BotProcess | undefined;
afterEach(async () => {
  await bot?.close();
  bot = undefined;
});

const shardOf = (guildId: string, shards: number): number =>
  Number((BigInt(guildId) >> 22n) % BigInt(shards));

function childPids(pid: number): number[] {
  try {
    return execFileSync("pgrep", ["-P", String(pid)], { encoding: "utf8" })
      .split("\n")
      .filter((line) => line !== "")
      .map(Number);
  } catch {
    return [];
  }
}

describe("sharding", () => {
  it("2 shards in 2 processes: each guild answered by its shard; a killed shard restarts; SIGTERM stops all", async () => {
    const b = await startBotProcess({ SHARD_COUNT: "auto" }, { recommendedShards: 2 });
    bot = b;
    const { discord } = b;
    // Guild ids carry their creation time; make guilds until both shards own one.
    const guilds: SimGuildHandle[] = [b.guild];
    while (new Set(guilds.map((guild) => shardOf(guild.id, 2))).size < 2) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      guilds.push(discord.addGuild());
    }
    await waitFor(() => discord.gatewayCounters.identifies >= 2, "both shards to identify", 45_000);
    await waitFor(
      () => (b.stdout().match(/connected to Discord/g) ?? []).length >= 2,
      "both shards ready",
      30_000,
    );

    const answered = async (guild: SimGuildHandle): Promise<string[]> => {
      const record = discord.command(guild.id, guild.ownerId, "status");
      await discord.waitForResponses(record, 1, 15_000);
      // The interaction reached only the shard Discord routes the guild to, and it says so.
      const shard = record.responses[0]?.embeds[0]?.fields as { name: string; value: string }[] | undefined;
      expect(shard?.find((field) => field.name === "Shard")?.value).toBe(`${shardOf(guild.id, 2)} of 2`);
      return record.responses.map((response) => response.kind);
    };
    for (const guild of guilds) expect(await answered(guild)).toEqual(["reply"]);
    expect(b.discord.gatewayCounters.identifies).toBe(2);

    const shards = childPids(b.child.pid!);
    expect(shards).toHaveLength(2);
    process.kill(shards[0]!, "SIGKILL");
    await waitFor(() => discord.gatewayCounters.identifies >= 3, "the killed shard to come back", 45_000);
    await waitFor(() => childPids(b.child.pid!).length === 2, "two shard processes again", 10_000);
    await waitFor(
      () => (b.stdout().match(/connected to Discord/g) ?? []).length >= 3,
      "the new shard ready",
      30_000,
    );
    for (const guild of guilds) expect(await answered(guild)).toEqual(["reply"]);
    expect(logMessages(b.stdout())).toContain("shard process died; restarting it");

    const signalled = performance.now();
    b.child.kill("SIGTERM");
    const exit = await b.exited;
    expect(exit.code, b.stderr()).toBe(0);
    expect(exit.at - signalled).toBeLessThan(10_000);
    await waitFor(() => childPids(b.child.pid!).length === 0, "no shard left", 5_000);
  }, 150_000);
});
