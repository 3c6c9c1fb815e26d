import { describe, expect, it } from "vitest";
import { FRAME_SAMPLES_24K } from "../../src/audio/constants.ts";
import { InlineOutputEncoder, type OutputEncoderSink } from "../../src/audio/output-encoder.ts";
import { createMemoryLogger } from "../../src/log.ts";
import { EncoderWorker } from "../../src/voice/encoder-worker.ts";
import { waitFor } from "../sim/voice-test-kit.ts";

/**
 * The output encoder worker (the fix for guild count measured in bench "capacity") must produce
 * exactly what encoding on the main thread does, in order, and hold no thread once idle.
 */

function speechLike(frames: number): Int16Array[] {
  return Array.from({ length: frames }, (_, f) => {
    const frame = new Int16Array(FRAME_SAMPLES_24K);
    for (let i = 0; i < frame.length; i++) {
      const t = (f * FRAME_SAMPLES_24K + i) / 24_000;
      frame[i] = Math.round(6000 * Math.sin(2 * Math.PI * 220 * t) + 3000 * Math.sin(2 * Math.PI * 1375 * t));
    }
    return frame;
  });
}

interface Collected extends OutputEncoderSink {
  readonly packets: Buffer[];
  lostFrames: number;
}

function collector(): Collected {
  const collected: Collected = {
    packets: [],
    lostFrames: 0,
    packet(packet) {
      collected.packets.push(packet);
    },
    lost(frames) {
      collected.lostFrames += frames;
    },
  };
  return collected;
}

function newWorker(): EncoderWorker {
  return new EncoderWorker(createMemoryLogger().logger);
}

describe("output encoder worker", () => {
  it("encodes exactly as the main thread does, in order, with volume applied", async () => {
    const frames = speechLike(50);
    const gains = frames.map((_, i) => (i < 25 ? 1 : 0.35));
    const inline = collector();
    const reference = new InlineOutputEncoder(inline);
    for (const [i, frame] of frames.entries()) reference.encode(frame, gains[i]!);
    reference.destroy();

    const sink = collector();
    const stream = newWorker().open(sink);
    for (const [i, frame] of frames.entries()) stream.encode(frame, gains[i]!);
    await waitFor(() => sink.packets.length === frames.length, "every packet");
    stream.destroy();
    expect(sink.packets).toEqual(inline.packets);
    expect(sink.lostFrames).toBe(0);
  });

  it("drops frames still on the worker when reset, and keeps encoding after", async () => {
    const frames = speechLike(30);
    const sink = collector();
    const stream = newWorker().open(sink);
    for (const frame of frames.slice(0, 20)) stream.encode(frame, 1);
    stream.reset();
    for (const frame of frames.slice(20)) stream.encode(frame, 1);
    await waitFor(() => sink.packets.length >= 10, "the frames after the reset");
    await new Promise((resolve) => setTimeout(resolve, 100));
    stream.destroy();
    expect(sink.packets).toHaveLength(10);
  });

  it("holds no thread once its last stream is closed", async () => {
    const worker = newWorker();
    const before = process.getActiveResourcesInfo().filter((type) => type === "MessagePort").length;
    const sink = collector();
    const stream = worker.open(sink);
    stream.encode(speechLike(1)[0]!, 1);
    await waitFor(() => sink.packets.length === 1, "a packet");
    stream.destroy();
    await waitFor(
      () => process.getActiveResourcesInfo().filter((type) => type === "MessagePort").length <= before,
      "the worker to stop",
    );
  });
});
