import { Readable } from "node:stream";
import {
  AudioPlayerStatus,
  createAudioPlayer,
  createAudioResource,
  entersState,
  StreamType,
  type VoiceConnection,
  VoiceConnectionStatus,
} from "@discordjs/voice";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { trustLoopbackCertificate } from "../../src/sim/tls.ts";
import { LoopbackVoiceServer } from "../../src/sim/voice-server.ts";
import { joinLoopback, uniqueGuildId, waitFor } from "./voice-test-kit.ts";

/*
 * DAVE end to end between the real @discordjs/voice client (davey inside) and the loopback voice
 * server, whose simulated users run their own davey sessions.
 */

const BOT = "100000000000000001";
const ALICE = "200000000000000002";
const BOB = "200000000000000003";
const CHANNEL = "300000000000000003";

let server: LoopbackVoiceServer;
const connections: VoiceConnection[] = [];

function join(guildId: string, options: { daveEncryption?: boolean } = {}): VoiceConnection {
  return joinLoopback(server, { guildId, channelId: CHANNEL, botId: BOT, ...options }, connections);
}

interface BotDave {
  readonly voicePrivacyCode: string | null;
  readonly session?: { readonly epoch: bigint | null; readonly ready: boolean };
}

/** The library's DAVE session wrapper for this connection (undefined before Ready). */
function botDave(connection: VoiceConnection): BotDave | undefined {
  const state = connection.state as { networking?: { state: { dave?: BotDave } } };
  return state.networking?.state.dave;
}

async function readyWith(guildId: string, users: readonly string[]): Promise<VoiceConnection> {
  const connection = join(guildId);
  await entersState(connection, VoiceConnectionStatus.Ready, 5_000);
  await server.waitForSession(guildId);
  for (const user of users) server.addUser(guildId, user);
  await waitFor(
    () => users.every((u) => server.isDaveMember(guildId, u)) && !server.daveTransitioning(guildId),
    "every user in the DAVE group",
  );
  return connection;
}

beforeAll(() => trustLoopbackCertificate());

beforeEach(async () => {
  server = await LoopbackVoiceServer.start({ heartbeatIntervalMs: 500 });
});

afterEach(async () => {
  for (const connection of connections.splice(0)) {
    if (connection.state.status !== VoiceConnectionStatus.Destroyed) connection.destroy();
  }
  await server.close();
});

describe("DAVE between @discordjs/voice and the loopback voice server", () => {
  it("reaches epoch 1 with matching privacy codes for the bot and a simulated user", async () => {
    const guildId = uniqueGuildId();
    const connection = await readyWith(guildId, [ALICE]);

    const description = server.opLog.find(
      (e) => e.guildId === guildId && e.op === 4 && e.direction === "out",
    );
    expect(description?.d).toMatchObject({ dave_protocol_version: 1 });
    const bot = botDave(connection);
    await waitFor(() => bot?.session?.ready === true, "the bot's DAVE session to be ready");
    expect(bot?.session?.epoch).toBe(1n);
    const alice = server.daveMember(guildId, ALICE);
    expect(alice?.epoch).toBe(1n);
    expect(bot?.voicePrivacyCode).toMatch(/^\d{30}$/);
    expect(bot?.voicePrivacyCode).toBe(alice?.voicePrivacyCode);
    const report = server.daveReport(guildId);
    expect(report).toMatchObject({ protocolVersion: 1, epoch: 1, epochs: 1 });
    expect(report?.transitions).toBeGreaterThanOrEqual(1);
    const binaryOps = server.opLog.filter((e) => e.guildId === guildId).map((e) => `${e.direction}${e.op}`);
    for (const op of ["out25", "in26", "out22", "in23"]) expect(binaryOps).toContain(op);
  });

  it("closes an Identify that offers no DAVE with 4017, as Discord does", async () => {
    const guildId = uniqueGuildId();
    const connection = join(guildId, { daveEncryption: false });
    const closeCode = await new Promise<number>((resolve) => {
      connection.on("stateChange", (_, next) => {
        const networking = (
          next as { networking?: { once(event: "close", f: (code: number) => void): void } }
        ).networking;
        networking?.once("close", resolve);
      });
    });
    connection.destroy();
    expect(closeCode).toBe(4017);
    expect(server.opLog.some((e) => e.guildId === guildId && e.op === 2)).toBe(false);
  });

  it("carries a user's speech to the bot DAVE-encrypted, and the bot's audio back the same way", async () => {
    const guildId = uniqueGuildId();
    const connection = await readyWith(guildId, [ALICE]);
    await waitFor(() => connection.receiver.ssrcMap.get(ALICE) !== undefined, "Alice's SSRC");
    const frames = Array.from({ length: 10 }, (_, i) => Buffer.from([0xfc, i, 0x55, 0xaa, i]));
    const received: string[] = [];
    connection.receiver.speaking.on("start", (userId) => {
      if (userId !== ALICE) return;
      connection.receiver
        .subscribe(userId)
        .on("data", (chunk: Buffer) => received.push(chunk.toString("hex")));
    });
    const before = server.daveReport(guildId)?.encryptedFrames ?? 0;
    await server.speakAs(guildId, ALICE, { opus: frames });
    await waitFor(() => received.length >= frames.length - 1, "Alice's frames at the bot");
    // The subscription opens on the first packet, so that one may be lost; the rest arrive intact.
    expect(frames.map((f) => f.toString("hex"))).toEqual(expect.arrayContaining(received));
    expect((server.daveReport(guildId)?.encryptedFrames ?? 0) - before).toBe(frames.length);

    const sent: Buffer[] = [];
    const stop = server.onBotAudio((p) => {
      if (p.guildId === guildId && !p.isSilence) sent.push(p.opus);
    });
    const player = createAudioPlayer();
    connection.subscribe(player);
    const botFrames = Array.from({ length: 10 }, (_, i) => Buffer.from([0xfc, i, i, i]));
    player.play(createAudioResource(Readable.from(botFrames), { inputType: StreamType.Opus }));
    await entersState(player, AudioPlayerStatus.Playing, 2_000);
    await entersState(player, AudioPlayerStatus.Idle, 5_000);
    stop();
    expect(sent.map((f) => f.toString("hex"))).toEqual(botFrames.map((f) => f.toString("hex")));
    // Every one of them was a DAVE frame on the wire, opened with Alice's session.
    expect(server.daveReport(guildId)).toMatchObject({
      decryptedFrames: botFrames.length,
      decryptFailures: 0,
    });
  });

  it("a third user joining and leaving moves the epoch on, and the sole member is reset", async () => {
    const guildId = uniqueGuildId();
    const connection = await readyWith(guildId, [ALICE]);
    server.addUser(guildId, BOB);
    await waitFor(
      () => server.isDaveMember(guildId, BOB) && !server.daveTransitioning(guildId),
      "Bob welcomed",
    );
    const bot = botDave(connection);
    expect(bot?.session?.epoch).toBe(2n);
    expect(server.daveMember(guildId, BOB)?.voicePrivacyCode).toBe(bot?.voicePrivacyCode);
    server.removeUser(guildId, BOB);
    await waitFor(
      () => server.daveReport(guildId)?.epoch === 3 && !server.daveTransitioning(guildId),
      "Bob removed",
    );
    await waitFor(() => bot?.session?.epoch === 3n, "the bot at epoch 3");
    expect(server.daveMember(guildId, ALICE)?.voicePrivacyCode).toBe(bot?.voicePrivacyCode);
    server.removeUser(guildId, ALICE);
    await waitFor(() => bot?.session?.ready === false, "the bot back to a pending group");
    expect(server.daveReport(guildId)?.epoch).toBe(0);
    server.addUser(guildId, ALICE);
    await waitFor(
      () => server.isDaveMember(guildId, ALICE) && !server.daveTransitioning(guildId),
      "a new group",
    );
    await waitFor(() => bot?.session?.ready === true, "the bot in the new group");
    expect(bot?.session?.epoch).toBe(1n);
  });
});
