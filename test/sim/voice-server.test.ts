import { createSocket } from "node:dgram";
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
import WebSocket from "ws";
import { loopbackTlsIdentity, trustLoopbackCertificate } from "../../src/sim/tls.ts";
import { LoopbackVoiceServer } from "../../src/sim/voice-server.ts";
import { joinLoopback, sleep, uniqueGuildId, waitFor } from "./voice-test-kit.ts";

const BOT = "100000000000000001";
const ALICE = "200000000000000002";

let server: LoopbackVoiceServer;
const connections: VoiceConnection[] = [];

function join(guildId: string, options: { selfDeaf?: boolean } = {}): VoiceConnection {
  return joinLoopback(
    server,
    { guildId, channelId: "300000000000000003", botId: BOT, ...options },
    connections,
  );
}

function opsFor(guildId: string, direction: "in" | "out"): number[] {
  return server.opLog.filter((e) => e.guildId === guildId && e.direction === direction).map((e) => e.op);
}

function readyPayload(guildId: string): { port: number; ssrc: number } {
  const ready = server.opLog.find((e) => e.guildId === guildId && e.direction === "out" && e.op === 2);
  const d = ready?.d as { port?: unknown; ssrc?: unknown } | undefined;
  if (typeof d?.port !== "number" || typeof d.ssrc !== "number") throw new Error("no Ready payload");
  return { port: d.port, ssrc: d.ssrc };
}

async function openRawSocket(): Promise<WebSocket> {
  const socket = new WebSocket(`wss://${server.endpoint}/?v=8`, { ca: loopbackTlsIdentity().cert });
  await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
  return socket;
}

function closeCodeAfter(socket: WebSocket, message: string): Promise<number> {
  const closed = new Promise<number>((resolve) => socket.once("close", resolve));
  socket.send(message);
  return closed;
}

beforeAll(() => trustLoopbackCertificate());

beforeEach(async () => {
  server = await LoopbackVoiceServer.start();
});

afterEach(async () => {
  for (const connection of connections.splice(0)) {
    if (connection.state.status !== VoiceConnectionStatus.Destroyed) connection.destroy();
  }
  await server.close();
});

describe("LoopbackVoiceServer with the real @discordjs/voice client", () => {
  it("takes the client to Ready over TLS with AES-GCM and DAVE declined when not required", async () => {
    await server.close();
    server = await LoopbackVoiceServer.start({ daveRequired: false });
    const guildId = uniqueGuildId();
    const connection = join(guildId);
    await entersState(connection, VoiceConnectionStatus.Ready, 5_000);
    await server.waitForSession(guildId);

    const identify = server.opLog.find((e) => e.guildId === guildId && e.op === 0);
    expect(identify?.d).toMatchObject({ server_id: guildId, user_id: BOT });
    const description = server.opLog.find(
      (e) => e.guildId === guildId && e.op === 4 && e.direction === "out",
    );
    expect(description?.d).toMatchObject({ mode: "aead_aes256_gcm_rtpsize", dave_protocol_version: 0 });
    expect(server.gatewayRequests(guildId)[0]).toMatchObject({ guildId, selfDeaf: false });
  });

  it("delivers a user's packets to the bot's receiver byte for byte, in several guilds at once", async () => {
    const guilds = [uniqueGuildId(), uniqueGuildId()];
    const connectionsByGuild = guilds.map((guildId) => join(guildId));
    await Promise.all(connectionsByGuild.map((c) => entersState(c, VoiceConnectionStatus.Ready, 5_000)));

    const frames = guilds.map((_, g) => Array.from({ length: 8 }, (_, i) => Buffer.from([0xfc, g, i, 0x55])));
    const received = guilds.map(() => [] as string[]);
    guilds.forEach((guildId, g) => {
      server.addUser(guildId, ALICE);
      const receiver = connectionsByGuild[g]!.receiver;
      receiver.speaking.on("start", (userId) => {
        receiver.subscribe(userId).on("data", (chunk: Buffer) => received[g]!.push(chunk.toString("hex")));
      });
    });
    await waitFor(
      () =>
        connectionsByGuild.every(
          (c, g) => c.receiver.ssrcMap.get(ALICE) !== undefined && server.daveSettled(guilds[g]!, ALICE),
        ),
      "SSRC maps and DAVE membership",
    );

    const sent = await Promise.all(
      guilds.map((guildId, g) => server.speakAs(guildId, ALICE, { opus: frames[g]! })),
    );
    expect(sent).toEqual([8, 8]);
    await waitFor(() => received.every((r) => r.length === 8), "all packets");
    for (const [g, r] of received.entries()) expect(r).toEqual(frames[g]!.map((f) => f.toString("hex")));
  });

  it("captures and decrypts what the bot plays, in order, with silence marked", async () => {
    const guildId = uniqueGuildId();
    const connection = join(guildId);
    await entersState(connection, VoiceConnectionStatus.Ready, 5_000);
    const speaking: number[] = [];
    const stopListening = server.onBotSpeaking((event) => {
      if (event.guildId === guildId) speaking.push(event.speaking);
    });
    const player = createAudioPlayer();
    connection.subscribe(player);
    const frames = Array.from({ length: 10 }, (_, i) => Buffer.from([0xfc, i, i, i]));
    player.play(createAudioResource(Readable.from(frames), { inputType: StreamType.Opus }));
    await entersState(player, AudioPlayerStatus.Playing, 2_000);
    await entersState(player, AudioPlayerStatus.Idle, 5_000);
    await sleep(60);

    const packets = server.botAudio(guildId);
    const audio = packets.filter((p) => !p.isSilence).map((p) => p.opus.toString("hex"));
    expect(audio).toEqual(frames.map((f) => f.toString("hex")));
    expect(packets.some((p) => p.isSilence)).toBe(true);
    for (let i = 1; i < packets.length; i++) {
      expect(packets[i]!.sequence).toBe((packets[i - 1]!.sequence + 1) & 0xffff);
      expect(packets[i]!.nonce).toBe(packets[i - 1]!.nonce + 1);
    }
    await waitFor(() => speaking.at(-1) === 0, "the bot to stop speaking");
    expect(speaking[0]).toBe(1);
    stopListening();
    player.stop(true);
  });

  it("replays messages the client missed while its socket was down (buffered resume)", async () => {
    const guildId = uniqueGuildId();
    const connection = join(guildId);
    await entersState(connection, VoiceConnectionStatus.Ready, 5_000);

    server.disconnect(guildId, 4015);
    server.addUser(guildId, ALICE); // sent while the socket is closing: only a replay can deliver it
    await entersState(connection, VoiceConnectionStatus.Connecting, 2_000);
    await entersState(connection, VoiceConnectionStatus.Ready, 5_000);
    await waitFor(
      () => connection.receiver.ssrcMap.get(ALICE) !== undefined,
      "Alice's SSRC after the resume",
    );
    expect(opsFor(guildId, "in")).toContain(7);
    expect(opsFor(guildId, "out")).toContain(9);
  });

  it("resumes after missed heartbeat ACKs and re-identifies after a refused resume", async () => {
    await server.close();
    server = await LoopbackVoiceServer.start({ heartbeatIntervalMs: 100 });
    const guildId = uniqueGuildId();
    const connection = join(guildId);
    await entersState(connection, VoiceConnectionStatus.Ready, 5_000);

    server.setHeartbeatAck(false);
    await waitFor(() => opsFor(guildId, "in").includes(7), "a Resume", 3_000);
    server.setHeartbeatAck(true);
    await entersState(connection, VoiceConnectionStatus.Ready, 5_000);

    server.rejectNextResume();
    server.disconnect(guildId, 1001);
    await waitFor(() => server.gatewayRequests(guildId).length === 2, "a rejoin through the gateway");
    await entersState(connection, VoiceConnectionStatus.Ready, 5_000);
    expect(server.opLog.filter((e) => e.op === 0 && e.direction === "in")).toHaveLength(2);
  });

  it("logs and ignores malformed WebSocket messages and datagrams", async () => {
    const guildId = uniqueGuildId();
    const connection = join(guildId);
    await entersState(connection, VoiceConnectionStatus.Ready, 5_000);

    const junkSocket = await openRawSocket();
    junkSocket.send("{not json");
    junkSocket.send(JSON.stringify({ op: "zero" }));
    junkSocket.send(Buffer.from([1, 2, 3]));
    junkSocket.send(JSON.stringify({ op: 42, d: null }));
    expect(await closeCodeAfter(junkSocket, JSON.stringify({ op: 1, d: { data: {} } }))).toBe(4003);
    const forger = await openRawSocket();
    const forgedIdentify = JSON.stringify({
      op: 0,
      d: { server_id: guildId, session_id: "x", token: "forged" },
    });
    expect(await closeCodeAfter(forger, forgedIdentify)).toBe(4004);

    const { port, ssrc } = readyPayload(guildId);
    const udp = createSocket("udp4");
    const forged = Buffer.alloc(60);
    forged[0] = 0x80;
    forged[1] = 120;
    forged.writeUInt32BE(ssrc, 8);
    for (const junk of [Buffer.alloc(3), Buffer.alloc(40, 0x80), Buffer.alloc(74, 0xff), forged]) {
      await new Promise((resolve) => udp.send(junk, port, "127.0.0.1", resolve));
    }
    udp.close();

    server.addUser(guildId, ALICE);
    await waitFor(() => connection.receiver.ssrcMap.get(ALICE) !== undefined, "the session to still work");
    expect(connection.state.status).toBe(VoiceConnectionStatus.Ready);
    expect(server.botAudio(guildId)).toHaveLength(0);
  });

  it("refuses to speak to a bot that joined self-deafened", async () => {
    const guildId = uniqueGuildId();
    const connection = join(guildId, { selfDeaf: true });
    await entersState(connection, VoiceConnectionStatus.Ready, 5_000);
    server.addUser(guildId, ALICE);
    await expect(server.speakAs(guildId, ALICE, { opus: [Buffer.from([0xfc])] })).rejects.toThrow(
      /self-deafened/,
    );
  });
});
