import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type LocalVoiceLiveServer, startLocalVoiceLiveServer } from "../../src/local/server.ts";
import type { SimGuildHandle } from "../../src/sim/discord/index.ts";
import { waitFor } from "../sim/voice-test-kit.ts";
import { type BotProcess, logMessages, startBotProcess } from "./bot-process.ts";
import { childPids, guildsOnEveryShard, shardOf } from "./shards.ts";

/**
 * `npm start` with SHARD_COUNT=auto against a loopback Discord that recommends 2 shards: the
 * sharding manager runs one bot process per shard, each guild is served by the shard Discord
 * routes it to, a shard killed with SIGKILL comes back, and SIGTERM stops them all cleanly.
 */

let bot: BotProcess | undefined;
let standIn: LocalVoiceLiveServer | undefined;
afterEach(async () => {
  await bot?.close();
  bot = undefined;
  await standIn?.close();
  standIn = undefined;
});

/** Guilds until both of 2 shards own at least `each`. */
const guildsOnBothShards = (b: BotProcess, each: number): Promise<SimGuildHandle[]> =>
  guildsOnEveryShard(b.discord, b.guild, 2, each);

/** A port p with p and p + 1 both free now. */
async function freePortPair(): Promise<number> {
  for (;;) {
    const first = createServer();
    await new Promise<void>((resolve) => first.listen(0, "127.0.0.1", resolve));
    const port = (first.address() as AddressInfo).port;
    const second = createServer();
    const free = await new Promise<boolean>((resolve) => {
      second.once("error", () => resolve(false));
      second.listen(port + 1, "127.0.0.1", () => resolve(true));
    });
    first.close();
    second.close();
    if (free) return port;
  }
}

describe("sharding", () => {
  it("2 shards in 2 processes: each guild answered by its shard; a killed shard restarts; SIGTERM stops all", async () => {
    const metricsPort = await freePortPair();
    const b = await startBotProcess(
      { SHARD_COUNT: "auto", METRICS_PORT: String(metricsPort) },
      { recommendedShards: 2 },
    );
    bot = b;
    const { discord } = b;
    const guilds = await guildsOnBothShards(b, 1);
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
    // Each shard serves its metrics on METRICS_PORT + its id, every series labelled with it.
    for (const shard of [0, 1]) {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort + shard}/metrics`)).text();
      expect(text).toMatch(new RegExp(`voicelive_active_conversations\\{shard="${shard}"\\} 0`));
    }

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

  it("shards share one Voice Live connection budget: 10+ joins at once, never more than 6 connections a minute, all connect", async () => {
    const apiKey = "shared-budget-test-key-0123456789";
    const local = await startLocalVoiceLiveServer({ port: 0, apiKey, reply: "echo" });
    standIn = local;
    const b = await startBotProcess(
      {
        SHARD_COUNT: "auto",
        AZURE_VOICELIVE_ENDPOINT: local.url,
        AZURE_VOICELIVE_API_KEY: apiKey,
        VOICELIVE_CONNECTIONS_PER_MINUTE: "6",
      },
      { recommendedShards: 2 },
    );
    bot = b;
    const { discord } = b;
    const guilds = (await guildsOnBothShards(b, 4)).slice(0, 10);
    while (
      guilds.filter((g) => shardOf(g.id, 2) === 0).length < 3 ||
      guilds.filter((g) => shardOf(g.id, 2) === 1).length < 3
    ) {
      guilds.push(discord.addGuild());
      guilds.shift();
    }
    await waitFor(
      () => (b.stdout().match(/connected to Discord/g) ?? []).length >= 2,
      "both shards ready",
      45_000,
    );
    const joins = guilds.map((guild) => {
      discord.setUserVoice(guild.id, guild.ownerId, guild.voiceChannelId);
      return discord.command(guild.id, guild.ownerId, "join");
    });
    await waitFor(
      () => joins.every((join) => join.responses.at(-1)?.embeds[0]?.title === "Listening"),
      "every join",
      120_000,
    );
    // A join that waits for the budget says so first.
    const told = joins.filter((join) =>
      join.responses.some((r) => r.content?.startsWith("Voice Live is busy: joining")),
    );
    expect(told.length).toBeGreaterThanOrEqual(guilds.length - 6);
    const connected = local.clientEvents.map((log) => log.connectedAt).sort((a, b) => a - b);
    expect(connected).toHaveLength(guilds.length);
    // Any 7 consecutive connections span at least a minute: no minute holds more than 6.
    for (let i = 6; i < connected.length; i++)
      expect(connected[i]! - connected[i - 6]!).toBeGreaterThanOrEqual(60_000);
    expect(logMessages(b.stdout())).toContain("Voice Live connection budget spent; shard waits");
  }, 180_000);
});
