import { describe, expect, it } from "vitest";
import type { BotPacket } from "../../src/sim/voice-server.ts";
import { OpusQueuePlayer } from "../../src/voice/opus-queue-player.ts";
import { sleep, waitFor } from "../sim/voice-test-kit.ts";
import { useTestBed } from "../voice/testbed.ts";

/**
 * The player's burst edges as the benchmarks rely on them (bench "bridge" and "capacity"): the
 * first frame is handed to the connection the moment a burst starts, and a burst ends with exactly
 * five silence frames, burst after burst.
 */

const bed = useTestBed();

function markedFrames(tagByte: number, count: number): Buffer[] {
  return Array.from({ length: count }, (_, i) => Buffer.from([0xfc, tagByte, i >> 8, i & 0xff]));
}

/** Runs of the wire: "N" audible packets and "S" silence frames, e.g. ["N3", "S5"]. */
function runs(packets: readonly BotPacket[]): string[] {
  const out: string[] = [];
  for (const packet of packets) {
    const kind = packet.isSilence ? "S" : "N";
    const last = out.at(-1);
    if (last?.startsWith(kind)) out[out.length - 1] = `${kind}${Number(last.slice(1)) + 1}`;
    else out.push(`${kind}1`);
  }
  return out;
}

describe("OpusQueuePlayer bursts", () => {
  it("hands a burst's first frame to the connection as soon as the burst starts", async () => {
    const managed = bed.join();
    await managed.ready();
    const player = new OpusQueuePlayer<number>();
    player.attach(managed.connection);
    bed.cleanup(() => player.destroy());
    const sent: (number | undefined)[] = [];
    player.onFrameSent((index) => sent.push(index));

    const frames = markedFrames(1, 3);
    for (const [i, frame] of frames.entries()) player.enqueue(frame, i);
    expect(sent).toEqual([0]);
    expect(player.framesSent).toBe(1);

    player.markComplete();
    await waitFor(() => !player.playing, "the burst to end");
    await waitFor(() => bed.server.botAudio(managed.guildId).length >= 8, "frames and padding");
    expect(
      bed.server
        .botAudio(managed.guildId)
        .filter((p) => !p.isSilence)
        .map((p) => p.opus),
    ).toEqual(frames);
  });

  it("ends every burst with exactly five silence frames and sends nothing between bursts", async () => {
    const managed = bed.join();
    await managed.ready();
    const player = new OpusQueuePlayer<string>();
    player.attach(managed.connection);
    bed.cleanup(() => player.destroy());

    for (const tag of [1, 2]) {
      for (const frame of markedFrames(tag, 4)) player.enqueue(frame, String(tag));
      player.markComplete();
      await waitFor(() => !player.playing, `burst ${tag} to end`);
      await sleep(200);
    }
    expect(runs(bed.server.botAudio(managed.guildId))).toEqual(["N4", "S5", "N4", "S5"]);
  });
});
