/** Whole-signal rate conversion: faithful in the passband, no aliasing, aligned in time. */
import { describe, expect, it } from "vitest";
import { convertSampleRate } from "../../src/audio/rate-convert.ts";

function sine(hz: number, rate: number, seconds: number, amplitude = 10_000): Int16Array {
  const out = new Int16Array(rate * seconds);
  for (let i = 0; i < out.length; i++)
    out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / rate));
  return out;
}

function rms(pcm: Int16Array, from = 0, to = pcm.length): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += pcm[i]! * pcm[i]!;
  return Math.sqrt(sum / (to - from));
}

describe("convertSampleRate", () => {
  it.each([
    [16_000, 24_000],
    [8_000, 24_000],
    [24_000, 16_000],
    [24_000, 8_000],
    [44_100, 48_000],
    [8_000, 48_000],
    [22_050, 48_000],
  ])("%i Hz -> %i Hz keeps a 1 kHz tone in place and in level", (from, to) => {
    const out = convertSampleRate(sine(1000, from, 1), from, to);
    expect(out.length).toBe(to);
    const ideal = sine(1000, to, 1);
    const diff = new Int16Array(out.length);
    for (let i = 0; i < out.length; i++) diff[i] = out[i]! - ideal[i]!;
    // Away from the edges (filter start-up), within 1% of the ideal signal: no delay, no gain error.
    const edge = to / 50;
    expect(rms(diff, edge, out.length - edge) / rms(ideal)).toBeLessThan(0.01);
  });

  it("removes what the lower rate cannot hold instead of folding it back (24 kHz -> 8 kHz, 6 kHz tone)", () => {
    const out = convertSampleRate(sine(6000, 24_000, 1), 24_000, 8_000);
    expect(20 * Math.log10(rms(out, 200, out.length - 200) / rms(sine(6000, 24_000, 1)))).toBeLessThan(-60);
  });

  it("returns the input untouched when the rates match", () => {
    const pcm = sine(440, 24_000, 1);
    expect(convertSampleRate(pcm, 24_000, 24_000)).toBe(pcm);
  });
});
