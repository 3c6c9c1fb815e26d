import { VoiceConnectionStatus } from "@discordjs/voice";
import { describe, expect, it } from "vitest";
import { encodeOpusStream } from "../../src/audio/opus-stream.ts";
import type { CloseAction } from "../../src/sim/voice-server.ts";
import type { ManagedVoiceConnection, VoiceEnd } from "../../src/voice/connection.ts";
import { OpusQueuePlayer } from "../../src/voice/opus-queue-player.ts";
import { SpeakerReceiver } from "../../src/voice/speaker-receiver.ts";
import { takeFrame, toneFrames, waitFor } from "../sim/voice-test-kit.ts";
import { type TestBed, useTestBed } from "./testbed.ts";

const ALICE = "200000000000000002";
const bed = useTestBed();

function destroyedWith(managed: ManagedVoiceConnection): Promise<VoiceEnd> {
  return new Promise((resolve) => managed.once("destroyed", resolve));
}

function identifies(guildId: string): number {
  return bed.server.opLog.filter((e) => e.guildId === guildId && e.direction === "in" && e.op === 0).length;
}

/** Alice speaks and the bot plays; both must get through after whatever happened before. */
async function assertAudioFlowsBothWays(testBed: TestBed, managed: ManagedVoiceConnection): Promise<void> {
  const { server } = testBed;
  const heard: number[] = [];
  const receiver = new SpeakerReceiver({
    receiver: managed.connection.receiver,
    isAllowed: () => true,
    inputRate: 24_000,
    onFrame: (speaker) => heard.push(takeFrame(speaker)[0]!),
  });
  const player = new OpusQueuePlayer();
  player.attach(managed.connection);
  testBed.cleanup(() => {
    receiver.close();
    player.destroy();
  });

  server.addUser(managed.guildId, ALICE);
  await waitFor(
    () =>
      managed.connection.receiver.ssrcMap.get(ALICE) !== undefined &&
      server.daveSettled(managed.guildId, ALICE),
    "Alice's SSRC and DAVE membership",
  );
  await server.speakAs(managed.guildId, ALICE, { pcm: toneFrames(440, 10) });
  await waitFor(() => heard.length === 10, "Alice's 10 frames");

  const before = server.botAudio(managed.guildId).filter((p) => !p.isSilence).length;
  for (const frame of encodeOpusStream(toneFrames(660, 10))) player.enqueue(frame);
  player.markComplete();
  await waitFor(
    () => server.botAudio(managed.guildId).filter((p) => !p.isSilence).length === before + 10,
    "the bot's 10 frames",
  );
}

describe("ManagedVoiceConnection", () => {
  it("joins undeafened and unmuted and reports ready", async () => {
    const managed = bed.join();
    const ready = new Promise((resolve) => managed.once("ready", resolve));
    await managed.ready();
    expect(await ready).toEqual({ reconnected: false });
    expect(managed.status).toBe("ready");
    expect(bed.server.gatewayRequests(managed.guildId)[0]).toMatchObject({
      channelId: "300000000000000003",
      selfDeaf: false,
      selfMute: false,
    });
  });

  it("refuses a second join for a guild that is still connected", async () => {
    const managed = bed.join();
    await managed.ready();
    expect(() => bed.join({ guildId: managed.guildId })).toThrow(/already has a voice connection/);
  });

  it.each<[string, CloseAction]>([
    ["4015", 4015],
    ["1006 (dropped socket)", "terminate"],
  ])("resumes after close %s and still hears and plays", async (_name, action) => {
    const managed = bed.join();
    await managed.ready();
    const reconnecting = new Promise((resolve) => managed.once("reconnecting", resolve));
    const ready = new Promise((resolve) => managed.once("ready", resolve));

    bed.server.disconnect(managed.guildId, action);
    expect(await reconnecting).toMatchObject({ reason: "resuming" });
    expect(await ready).toEqual({ reconnected: true });
    expect(bed.server.opLog.some((e) => e.guildId === managed.guildId && e.op === 7)).toBe(true);
    expect(identifies(managed.guildId)).toBe(1);
    await assertAudioFlowsBothWays(bed, managed);
  });

  it("identifies anew after 4006 and recovers", async () => {
    const managed = bed.join();
    await managed.ready();
    const ready = new Promise((resolve) => managed.once("ready", resolve));
    bed.server.disconnect(managed.guildId, 4006);
    expect(await ready).toEqual({ reconnected: true });
    expect(identifies(managed.guildId)).toBe(2);
    expect(bed.server.gatewayRequests(managed.guildId)).toHaveLength(2);
    await assertAudioFlowsBothWays(bed, managed);
  });

  it("is destroyed after 4014 when no channel move follows", async () => {
    const managed = bed.join({ movedWaitMs: 200 });
    await managed.ready();
    const ended = destroyedWith(managed);
    const statusWhileWaiting = new Promise<string>((resolve) =>
      managed.connection.once(VoiceConnectionStatus.Disconnected, () => resolve(managed.status)),
    );
    bed.server.disconnect(managed.guildId, 4014);
    expect(await statusWhileWaiting).toMatch(/waiting for a channel move/);

    expect(await ended).toMatchObject({ kind: "kicked", closeCode: 4014 });
    expect(managed.status).toBe("destroyed (kicked)");
    expect(bed.server.gatewayRequests(managed.guildId).at(-1)?.channelId).toBeNull();
  });

  it("follows a channel move after 4014", async () => {
    const managed = bed.join({ movedWaitMs: 2_000 });
    await managed.ready();
    const ready = new Promise((resolve) => managed.once("ready", resolve));
    bed.server.moveBot(managed.guildId, "300000000000000099");
    expect(await ready).toEqual({ reconnected: true });
    expect(managed.connection.joinConfig.channelId).toBe("300000000000000099");
  });

  it("treats 4017 as fatal and says DAVE is required", async () => {
    const managed = bed.join();
    await managed.ready();
    const ended = destroyedWith(managed);
    bed.server.disconnect(managed.guildId, 4017);
    const end = await ended;
    expect(end).toMatchObject({ kind: "dave-required", closeCode: 4017 });
    expect(end.message).toMatch(/DAVE/);
    expect(end.message).toMatch(/daveEncryption/);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(identifies(managed.guildId)).toBe(1);
  });

  it("rejoins with backoff while the gateway cannot send, and recovers when it can", async () => {
    const managed = bed.join({ rejoinBackoffMs: 20, maxRejoinAttempts: 10 });
    await managed.ready();
    bed.server.setAdapterAvailable(managed.guildId, false);
    bed.server.disconnect(managed.guildId, 4006);
    await waitFor(() => managed.connection.rejoinAttempts >= 3, "three rejoin attempts");
    expect(managed.status).toMatch(/^disconnected, rejoining/);
    const ready = new Promise((resolve) => managed.once("ready", resolve));
    bed.server.setAdapterAvailable(managed.guildId, true);
    expect(await ready).toEqual({ reconnected: true });
  });

  it("gives up after the configured number of rejoins", async () => {
    const managed = bed.join({ rejoinBackoffMs: 10, maxRejoinAttempts: 3 });
    await managed.ready();
    const ended = destroyedWith(managed);
    bed.server.setAdapterAvailable(managed.guildId, false);
    bed.server.disconnect(managed.guildId, 4006);
    expect(await ended).toMatchObject({ kind: "rejoin-failed" });
  });

  it("leaves on request, telling the gateway", async () => {
    const managed = bed.join();
    await managed.ready();
    const ended = destroyedWith(managed);
    managed.leave("test over");
    expect(await ended).toEqual({ kind: "left", message: "test over" });
    expect(bed.server.gatewayRequests(managed.guildId).at(-1)?.channelId).toBeNull();
    await expect(managed.ready()).rejects.toThrow("test over");
  });
});
