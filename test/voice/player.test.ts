import { describe, expect, it } from "vitest";
import { encodeOpusStream } from "../../src/audio/opus-stream.ts";
import type { BotPacket } from "../../src/sim/voice-server.ts";
import type { ManagedVoiceConnection } from "../../src/voice/connection.ts";
import { OpusQueuePlayer, type OpusQueuePlayerOptions } from "../../src/voice/opus-queue-player.ts";
import {
  bestFrameCorrelation,
  decodeToMono,
  sleep,
  speechFrames,
  toneFrames,
  waitFor,
} from "../sim/voice-test-kit.ts";
import { useTestBed } from "./testbed.ts";

const bed = useTestBed();

async function playerOnConnection(
  options: OpusQueuePlayerOptions = {},
): Promise<{ managed: ManagedVoiceConnection; player: OpusQueuePlayer<string> }> {
  const managed = bed.join();
  await managed.ready();
  const player = new OpusQueuePlayer<string>(options);
  player.attach(managed.connection);
  bed.cleanup(() => player.destroy());
  return { managed, player };
}

function audible(guildId: string): BotPacket[] {
  return bed.server.botAudio(guildId).filter((p) => !p.isSilence);
}

/** Distinct, recognisable stand-in Opus frames: [0xfc, tag byte, index hi, index lo]. */
function markedFrames(tagByte: number, count: number): Buffer[] {
  return Array.from({ length: count }, (_, i) => Buffer.from([0xfc, tagByte, i >> 8, i & 0xff]));
}

describe("OpusQueuePlayer", () => {
  it("plays queued speech that the server decodes to what was encoded, counting every frame", async () => {
    const { managed, player } = await playerOnConnection();
    const sent: (string | undefined)[] = [];
    player.onFrameSent((tag) => sent.push(tag));
    const frames = encodeOpusStream(speechFrames("speech-interruption.wav", 40));
    for (const [i, frame] of frames.entries()) player.enqueue(frame, `item-1:${i}`);
    player.markComplete();

    await waitFor(() => !player.playing && audible(managed.guildId).length === 40, "the whole item");
    const captured = audible(managed.guildId).map((p) => p.opus);
    expect(captured).toEqual(frames);
    expect(bestFrameCorrelation(decodeToMono(captured), decodeToMono(frames), 0)).toBeGreaterThan(0.999);
    expect(player.framesSent).toBe(40);
    expect(sent).toEqual(frames.map((_, i) => `item-1:${i}`));
    await waitFor(() => bed.server.botAudio(managed.guildId).at(-1)?.isSilence === true, "trailing silence");
  });

  it("flushes at once: at most the one prepared frame leaves, and the count matches the wire", async () => {
    const { managed, player } = await playerOnConnection();
    const perTag = new Map<string, number>();
    player.onFrameSent((tag) => perTag.set(tag!, (perTag.get(tag!) ?? 0) + 1));
    const first = markedFrames(1, 20);
    const second = markedFrames(2, 100);
    for (const frame of first) player.enqueue(frame, "a");
    for (const frame of second) player.enqueue(frame, "b");

    // Flush from the server's receive callback: everything the bot dispatched so far has arrived.
    let flushedAfter = -1;
    let dropped = -1;
    let sentAtFlush = -1;
    const stop = bed.server.onBotAudio((packet) => {
      if (flushedAfter >= 0 || packet.isSilence || packet.opus[1] !== 2 || packet.opus[3] !== 10) return;
      flushedAfter = audible(managed.guildId).length;
      sentAtFlush = player.framesSent;
      dropped = player.flush();
    });
    bed.cleanup(stop);
    await waitFor(() => flushedAfter >= 0, "the flush");
    await waitFor(
      () => bed.server.botAudio(managed.guildId).at(-1)?.isSilence === true,
      "silence after the flush",
    );
    await sleep(100);

    const wire = audible(managed.guildId);
    expect(wire.length - flushedAfter).toBeLessThanOrEqual(1);
    expect(wire.length).toBe(player.framesSent);
    expect(player.framesSent).toBe(sentAtFlush);
    expect(dropped + sentAtFlush).toBe(120);
    expect(player.queuedFrames).toBe(0);
    expect(player.playing).toBe(false);
    expect(perTag.get("a")).toBe(20);
    expect(perTag.get("b")).toBe(wire.filter((p) => p.opus[1] === 2).length);
    expect(wire.map((p) => p.opus)).toEqual([...first, ...second].slice(0, wire.length));
  });

  it("starts the next burst right after a flush without overwriting the frame still prepared", async () => {
    const { managed, player } = await playerOnConnection();
    const first = markedFrames(1, 20);
    const second = markedFrames(2, 10);
    let taken = 0;
    player.onFrameSent(() => {
      // Between the player taking its 8th frame and sending it: a barge-in, and the next answer's audio.
      if (++taken !== 8) return;
      queueMicrotask(() => {
        player.flush();
        for (const frame of second) player.enqueue(frame);
        player.markComplete();
      });
    });
    for (const frame of first) player.enqueue(frame);
    await waitFor(() => player.framesSent === 18 && !player.playing, "the second burst");
    await sleep(100);
    expect(audible(managed.guildId).map((p) => p.opus)).toEqual([...first.slice(0, 8), ...second]);
  });

  it("waits for the minimum buffer unless the burst is complete", async () => {
    const { managed, player } = await playerOnConnection({ minBufferFrames: 3 });
    for (const frame of markedFrames(1, 2)) player.enqueue(frame);
    await sleep(120);
    expect(player.playing).toBe(false);
    expect(player.framesSent).toBe(0);
    expect(bed.server.botAudio(managed.guildId)).toHaveLength(0);

    player.markComplete();
    await waitFor(() => audible(managed.guildId).length === 2, "both frames");
  });

  it("rides out an underrun within a burst and ends the burst after a long one", async () => {
    const { managed, player } = await playerOnConnection({ minBufferFrames: 2, maxUnderrunFrames: 25 });
    for (const frame of markedFrames(1, 4)) player.enqueue(frame);
    await waitFor(() => player.framesSent === 4, "the first four frames");
    await sleep(40); // a few empty pulls (silence), far from the 500 ms limit: the burst stays on
    expect(player.playing).toBe(true);
    for (const frame of markedFrames(2, 4)) player.enqueue(frame);
    await waitFor(() => player.framesSent === 8, "the next four frames");
    await waitFor(() => !player.playing, "the burst to end after the underrun limit", 2_000);

    for (const frame of markedFrames(3, 2)) player.enqueue(frame);
    player.markComplete();
    await waitFor(() => audible(managed.guildId).length === 10, "all ten frames");
    expect(audible(managed.guildId).map((p) => p.opus)).toEqual([
      ...markedFrames(1, 4),
      ...markedFrames(2, 4),
      ...markedFrames(3, 2),
    ]);
  });

  it("refuses frames beyond its cap", async () => {
    const player = new OpusQueuePlayer({ maxQueuedFrames: 5 });
    bed.cleanup(() => player.destroy());
    const frames = encodeOpusStream(toneFrames(440, 6));
    expect(frames.map((frame) => player.enqueue(frame))).toEqual([true, true, true, true, true, false]);
    expect(player.framesRefused).toBe(1);
    expect(player.queuedFrames).toBe(5);
    expect(player.flush()).toBe(5);
  });
});
