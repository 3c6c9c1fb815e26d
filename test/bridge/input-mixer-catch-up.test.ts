import { describe, expect, it } from "vitest";
import { MixerRig } from "./mixer-rig.ts";

/**
 * The input mixer's catch-up mode (bench "bridge": input latency p99 28 ms -> under 20 ms): a late
 * packet is waited for instead of becoming silence, and a backlog is appended at once instead of
 * delaying the rest of the utterance.
 */

const FRAME = 480;

function frame(value: number): Int16Array {
  return new Int16Array(FRAME).fill(value);
}

/** Each appended frame period as its first sample (frames are constant), tick by tick. */
function appendedPeriods(mixer: MixerRig, now: number): number[] | undefined {
  const mixed = mixer.tick(now);
  if (mixed === undefined) return undefined;
  const periods: number[] = [];
  for (let at = 0; at < mixed.pcm.length; at += FRAME) periods.push(mixed.pcm[at]!);
  return periods;
}

describe("input mixer catch-up", () => {
  it("waits one tick for a late packet, then appends it with the next: no gap, no lasting delay", () => {
    const waits: number[] = [];
    const mixer = new MixerRig({
      frameSamples: FRAME,
      tailMs: 100,
      catchUp: true,
      onFrameLatency: (ms) => waits.push(ms),
    });
    const appended: (number[] | undefined)[] = [];
    for (let t = 0; t < 10; t++) {
      // Frame 4 is 25 ms late: it arrives after tick 5 instead of before it.
      if (t !== 4 && t !== 5) mixer.push("alice", frame(1000 + t), t * 20 + 5);
      if (t === 5) mixer.push("alice", frame(1004), t * 20 + 10);
      if (t === 5) mixer.push("alice", frame(1005), t * 20 + 10);
      appended.push(appendedPeriods(mixer, t * 20 + 19));
    }
    expect(appended).toEqual([
      [1000],
      [1001],
      [1002],
      [1003],
      undefined,
      [1004, 1005],
      [1006],
      [1007],
      [1008],
      [1009],
    ]);
    expect(Math.max(...waits)).toBeLessThan(20);
  });

  it("appends two frames that arrived together at once", () => {
    const mixer = new MixerRig({ frameSamples: FRAME, tailMs: 100, catchUp: true });
    mixer.push("alice", frame(1001), 0);
    expect(appendedPeriods(mixer, 10)).toEqual([1001]);
    mixer.push("alice", frame(1002), 20);
    mixer.push("alice", frame(1003), 21);
    expect(appendedPeriods(mixer, 30)).toEqual([1002, 1003]);
    mixer.push("alice", frame(1004), 45);
    expect(appendedPeriods(mixer, 50)).toEqual([1004]);
  });

  it("does not wait for a speaker who stopped, and keeps the silence tail whole", () => {
    const mixer = new MixerRig({ frameSamples: FRAME, tailMs: 100, catchUp: true });
    const periods: number[] = [];
    for (let t = 0; t < 30; t++) {
      if (t < 5) mixer.push("alice", frame(500), t * 20);
      periods.push(...(appendedPeriods(mixer, t * 20 + 10) ?? []));
    }
    // 5 speech frames, then 100 ms (5 frames) of silence tail, then nothing.
    expect(periods).toEqual([500, 500, 500, 500, 500, 0, 0, 0, 0, 0]);
  });

  it("lets a lost packet cost its own 20 ms only: later frames are not delayed", () => {
    const waits: number[] = [];
    const mixer = new MixerRig({
      frameSamples: FRAME,
      tailMs: 100,
      catchUp: true,
      onFrameLatency: (ms) => waits.push(ms),
    });
    const periods: number[] = [];
    for (let t = 0; t < 20; t++) {
      if (t < 8 && t !== 3) mixer.push("alice", frame(100 + t), t * 20);
      periods.push(...(appendedPeriods(mixer, t * 20 + 10) ?? []));
    }
    // The 7 frames heard, then the 100 ms silence tail.
    expect(periods).toEqual([100, 101, 102, 104, 105, 106, 107, 0, 0, 0, 0, 0]);
    expect(waits.every((ms) => ms === 10)).toBe(true);
  });

  it("waits for a late speaker without dropping or reordering the other speaker's frames", () => {
    const mixer = new MixerRig({ frameSamples: FRAME, tailMs: 100, catchUp: true });
    const periods: number[] = [];
    for (let t = 0; t < 6; t++) {
      mixer.push("alice", frame(10 * (t + 1)), t * 20);
      if (t !== 2) mixer.push("bob", frame(1000), t * 20);
      if (t === 3) mixer.push("bob", frame(1000), t * 20 + 1);
      periods.push(...(appendedPeriods(mixer, t * 20 + 10) ?? []));
    }
    expect(periods).toEqual([1010, 1020, 1030, 1040, 1050, 1060]);
  });
});
