import { afterEach, describe, expect, it } from "vitest";
import { RESTART_NOTICE } from "../../src/discord/leftover-voice.ts";
import { type LocalVoiceLiveServer, startLocalVoiceLiveServer } from "../../src/local/server.ts";
import type { InteractionRecord, SimGuildHandle } from "../../src/sim/discord/index.ts";
import { createTestDatabase, type TestDatabase } from "../setup/databases.ts";
import { waitFor } from "../sim/voice-test-kit.ts";
import {
  type BotChild,
  type LoopbackWorld,
  logMessages,
  spawnBot,
  startLoopbackWorld,
} from "./bot-process.ts";
import { guildsOnEveryShard, readyShards, shardOf, shardProcess } from "./shards.ts";

/**
 * Several hosts sharing one PostgreSQL: two `npm start` processes, each running two of a bot's
 * four shards (SHARD_COUNT=4, SHARD_IDS=0-1 and 2-3), against one loopback Discord. Each guild is
 * answered by its shard, settings live in the database whichever process wrote them, a shard
 * killed mid-conversation comes back and says so in the channel, and the two hosts together keep
 * to one Voice Live connection budget.
 */

const SHARDS = 4;
let world: LoopbackWorld | undefined;
let database: TestDatabase | undefined;
let standIn: LocalVoiceLiveServer | undefined;
const hosts: BotChild[] = [];

afterEach(async () => {
  for (const host of hosts.splice(0)) await host.close();
  await world?.close();
  world = undefined;
  await standIn?.close();
  standIn = undefined;
  await database?.drop();
  database = undefined;
});

/** Two hosts, shards 0-1 and 2-3, both ready. */
async function twoHosts(
  w: LoopbackWorld,
  env: Readonly<Record<string, string>>,
): Promise<[BotChild, BotChild]> {
  const pair = (["0-1", "2-3"] as const).map((ids) =>
    spawnBot(w, { SHARD_COUNT: String(SHARDS), SHARD_IDS: ids, ...env }),
  ) as [BotChild, BotChild];
  hosts.push(...pair);
  await waitFor(() => pair.every((host) => readyShards(host.stdout()) >= 2), "all four shards ready", 60_000);
  return pair;
}

const hostOf = (pair: [BotChild, BotChild], guildId: string): BotChild =>
  pair[shardOf(guildId, SHARDS) < 2 ? 0 : 1];

async function run(
  w: LoopbackWorld,
  guild: SimGuildHandle,
  command: string,
  values: Record<string, string> = {},
): Promise<InteractionRecord> {
  const record = w.discord.command(guild.id, guild.ownerId, command, values);
  await w.discord.waitForResponses(record, 1, 20_000);
  return record;
}

const field = (record: InteractionRecord, name: string): string | undefined =>
  (record.responses.at(-1)?.embeds[0]?.fields as { name: string; value: string }[] | undefined)?.find(
    (entry) => entry.name === name,
  )?.value;

describe("sharding across hosts with PostgreSQL", () => {
  it("4 shards in 2 processes: each guild answered by its shard; a persona outlives a kill -9 mid-conversation, which the channel is told of", async () => {
    database = await createTestDatabase();
    const w = await startLoopbackWorld();
    world = w;
    const pair = await twoHosts(w, { DATABASE_URL: database.url });
    const guilds = await guildsOnEveryShard(w.discord, w.guild, SHARDS, 1);

    for (const guild of guilds) {
      const status = await run(w, guild, "status");
      expect(field(status, "Shard")).toBe(`${shardOf(guild.id, SHARDS)} of ${SHARDS}`);
    }
    expect(w.discord.gatewayCounters.identifies).toBe(SHARDS);

    // A guild on the second host: its persona is written there, in the shared database.
    const guild = guilds.find((candidate) => shardOf(candidate.id, SHARDS) === 3)!;
    const saved = await run(w, guild, "persona set", { voice: "coral" });
    expect(saved.responses[0]?.content).toMatch(/^Saved: .*voice coral/);

    w.discord.setUserVoice(guild.id, guild.ownerId, guild.voiceChannelId);
    const join = w.discord.command(guild.id, guild.ownerId, "join");
    await w.discord.waitForResponses(join, 2, 30_000);
    expect(join.responses.at(-1)?.embeds[0]?.title).toBe("Listening");
    expect(field(join, "Persona")).toContain("voice coral");
    await waitFor(
      () => w.discord.botVoiceChannel(guild.id) === guild.voiceChannelId,
      "the bot in voice",
      10_000,
    );

    // kill -9 of the shard mid-conversation: its manager starts it again, and the new process
    // tells the channel the conversation ended and leaves it.
    const host = hostOf(pair, guild.id);
    const shard = shardProcess(host.child.pid!, 3);
    expect(shard).toBeDefined();
    process.kill(shard!, "SIGKILL");
    await waitFor(() => readyShards(host.stdout()) >= 3, "the killed shard back", 45_000);
    expect(logMessages(host.stdout())).toContain("shard process died; restarting it");
    await waitFor(
      () =>
        w.discord
          .messages(guild.voiceChannelId)
          .some((message) => message.versions.at(-1)?.content === RESTART_NOTICE),
      "the restart notice in the channel",
      15_000,
    );
    await waitFor(() => w.discord.botVoiceChannel(guild.id) === null, "the bot out of the channel", 10_000);

    // The next conversation, on the restarted shard, has the persona set before the crash.
    const again = w.discord.command(guild.id, guild.ownerId, "join");
    await w.discord.waitForResponses(again, 2, 30_000);
    expect(again.responses.at(-1)?.embeds[0]?.title).toBe("Listening");
    expect(field(again, "Persona")).toContain("voice coral");
    // And every guild is still answered by its own shard.
    for (const other of guilds)
      expect(field(await run(w, other, "status"), "Shard")).toBe(`${shardOf(other.id, SHARDS)} of ${SHARDS}`);
  }, 120_000);

  it("joins at once on both hosts keep to one connection budget (3 a minute), each says when it waits, and all connect", async () => {
    database = await createTestDatabase();
    const apiKey = "shared-budget-test-key-0123456789";
    standIn = await startLocalVoiceLiveServer({ port: 0, apiKey, reply: "echo" });
    const w = await startLoopbackWorld();
    world = w;
    await twoHosts(w, {
      DATABASE_URL: database.url,
      AZURE_VOICELIVE_ENDPOINT: standIn.url,
      AZURE_VOICELIVE_API_KEY: apiKey,
      VOICELIVE_CONNECTIONS_PER_MINUTE: "3",
    });
    // Five guilds, at least two on each host.
    const all = await guildsOnEveryShard(w.discord, w.guild, SHARDS, 2);
    const guilds = [
      ...all.filter((g) => shardOf(g.id, SHARDS) < 2).slice(0, 2),
      ...all.filter((g) => shardOf(g.id, SHARDS) >= 2).slice(0, 3),
    ];
    expect(guilds).toHaveLength(5);

    const joins = guilds.map((guild) => {
      w.discord.setUserVoice(guild.id, guild.ownerId, guild.voiceChannelId);
      return w.discord.command(guild.id, guild.ownerId, "join");
    });
    await waitFor(
      () => joins.every((join) => join.responses.at(-1)?.embeds[0]?.title === "Listening"),
      "every join to connect",
      100_000,
    );
    const connected = standIn.clientEvents.map((log) => log.connectedAt).sort((a, b) => a - b);
    expect(connected).toHaveLength(5);
    // Any 4 consecutive connections span at least a minute: no minute holds more than 3.
    for (let i = 3; i < connected.length; i++)
      expect(connected[i]! - connected[i - 3]!).toBeGreaterThanOrEqual(60_000);
    // The two joins that waited said so, with the wait, before they connected.
    const told = joins.filter((join) =>
      join.responses.some((response) => response.content?.startsWith("Voice Live is busy: joining")),
    );
    expect(told).toHaveLength(2);
    for (const join of told) {
      const seconds = Number(/in about (\d+) s…$/.exec(join.responses[1]?.content ?? "")?.[1]);
      expect(seconds).toBeGreaterThan(30);
      expect(seconds).toBeLessThanOrEqual(61);
    }
    for (const join of told)
      expect(join.responses.map((response) => response.kind)).toEqual([
        "defer",
        "edit-original",
        "follow-up",
      ]);
  }, 120_000);
});
