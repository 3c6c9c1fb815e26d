import { describe, expect, it } from "vitest";
import { MixerRig } from "./mixer-rig.ts";

const FRAME = 480;

function frame(value: number): Int16Array {
  return new Int16Array(FRAME).fill(value);
}

function run(mixer: MixerRig, ticks: number, feed: (tick: number) => void = () => {}): number {
  let appended = 0;
  for (let t = 0; t < ticks; t++) {
    feed(t);
    if (mixer.tick(t * 20) !== undefined) appended++;
  }
  return appended;
}

describe("input mixer", () => {
  it("appends nothing while nobody has spoken", () => {
    const mixer = new MixerRig({ frameSamples: FRAME, tailMs: 1000 });
    expect(run(mixer, 500)).toBe(0);
  });

  it("keeps appending for the silence tail after the last speech frame, then stops", () => {
    const mixer = new MixerRig({ frameSamples: FRAME, tailMs: 1000 });
    const appended = run(mixer, 400, (t) => {
      if (t < 50) mixer.push("alice", frame(5000), t * 20);
    });
    // 50 speech frames plus 1000 ms / 20 ms = 50 tail frames of digital silence.
    expect(appended).toBe(100);
    expect(mixer.tick(400 * 20)).toBeUndefined();
  });

  it("does not let trailing silence packets from Discord extend the tail", () => {
    const mixer = new MixerRig({ frameSamples: FRAME, tailMs: 200 });
    const appended = run(mixer, 200, (t) => {
      if (t < 10) mixer.push("alice", frame(5000), t * 20);
      else if (t < 150) mixer.push("alice", frame(0), t * 20);
    });
    expect(appended).toBe(20);
  });

  it("mixes simultaneous speakers into one frame per tick with saturation", () => {
    const mixer = new MixerRig({ frameSamples: FRAME, tailMs: 0 });
    mixer.push("alice", frame(20_000), 0);
    mixer.push("bob", frame(20_000), 0);
    const mixed = mixer.tick(20);
    expect(mixed?.pcm[0]).toBe(32767);
    expect(mixed?.speakers).toEqual(["alice", "bob"]);
    expect(mixer.tick(40)).toBeUndefined();
  });

  it("bounds each speaker's jitter queue at 3 frames, dropping the oldest", () => {
    const mixer = new MixerRig({ frameSamples: FRAME, tailMs: 0 });
    for (let i = 1; i <= 5; i++) mixer.push("alice", frame(i * 100), i);
    expect(mixer.dropped).toBe(2);
    expect(mixer.tick(100)?.pcm[0]).toBe(300);
    expect(mixer.tick(120)?.pcm[0]).toBe(400);
    expect(mixer.tick(140)?.pcm[0]).toBe(500);
  });

  it("reports how long each frame waited", () => {
    const waits: number[] = [];
    const mixer = new MixerRig({ frameSamples: FRAME, tailMs: 0, onFrameLatency: (ms) => waits.push(ms) });
    mixer.push("alice", frame(1000), 5);
    mixer.tick(17);
    expect(waits).toEqual([12]);
  });
});
