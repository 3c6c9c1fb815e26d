import { describe, expect, it } from "vitest";
import { sine, whiteNoise } from "../../src/audio/analysis.ts";
import {
  applyGain,
  downmixStereo,
  isSilent,
  mixSaturating,
  rms,
  saturate16,
  upmixMono,
} from "../../src/audio/pcm.ts";

describe("channel conversion", () => {
  it("downmixes stereo to the average of both channels", () => {
    const mono = new Int16Array(3);
    expect(downmixStereo(Int16Array.of(100, 300, -32768, -32768, 32767, 32767), mono)).toBe(3);
    expect(Array.from(mono)).toEqual([200, -32768, 32767]);
  });

  it("upmixes mono into both channels, and a round trip is lossless", () => {
    const mono = whiteNoise(960, 1, 30_000);
    const stereo = new Int16Array(1920);
    expect(upmixMono(mono, stereo)).toBe(1920);
    expect(stereo[0]).toBe(mono[0]);
    expect(stereo[1]).toBe(mono[0]);
    const back = new Int16Array(960);
    downmixStereo(stereo, back);
    expect(back).toEqual(mono);
  });

  it("refuses an output buffer that is too small", () => {
    expect(() => downmixStereo(new Int16Array(1920), new Int16Array(959))).toThrow(
      /holds 959 samples, needs 960/,
    );
    expect(() => upmixMono(new Int16Array(960), new Int16Array(1919))).toThrow(RangeError);
  });
});

describe("mixSaturating", () => {
  it("sums speakers sample by sample", () => {
    const out = new Int16Array(3);
    mixSaturating([Int16Array.of(1, 2, 3), Int16Array.of(10, 20, 30), Int16Array.of(-5, 0, 5)], 3, out);
    expect(Array.from(out)).toEqual([6, 22, 38]);
  });

  it("clamps at full scale instead of wrapping around", () => {
    const loud = new Int16Array(4).fill(30_000);
    const quiet = new Int16Array(4).fill(-30_000);
    const out = new Int16Array(4);
    mixSaturating([loud, loud, loud, loud], 4, out);
    expect(Array.from(out)).toEqual([32767, 32767, 32767, 32767]);
    mixSaturating([quiet, quiet], 2, out);
    expect(Array.from(out)).toEqual([-32768, -32768, -32768, -32768]);
  });

  it("mixes only the first `count` inputs, and none gives digital silence", () => {
    const out = new Int16Array(2).fill(99);
    const slots = [Int16Array.of(1, 1), Int16Array.of(1000, 1000)];
    mixSaturating(slots, 1, out);
    expect(Array.from(out)).toEqual([1, 1]);
    mixSaturating(slots, 0, out);
    expect(Array.from(out)).toEqual([0, 0]);
  });

  it("refuses inputs shorter than the output and a count beyond the inputs", () => {
    expect(() => mixSaturating([new Int16Array(2)], 1, new Int16Array(3))).toThrow(/input 0 has 2 samples/);
    expect(() => mixSaturating([new Int16Array(3)], 2, new Int16Array(3))).toThrow(/count 2 > 1 inputs/);
  });
});

describe("applyGain (ducking)", () => {
  it("scales in place and saturates", () => {
    const pcm = Int16Array.of(1000, -1000, 20_000, -20_000);
    applyGain(pcm, 0.25);
    expect(Array.from(pcm)).toEqual([250, -250, 5000, -5000]);
    applyGain(pcm, 10);
    expect(Array.from(pcm)).toEqual([2500, -2500, 32767, -32768]);
  });

  it("lowers a voice by the requested amount in dB", () => {
    const voice = sine(300, 24_000, 4_800, 10_000);
    const before = rms(voice);
    applyGain(voice, 10 ** (-12 / 20));
    expect(20 * Math.log10(rms(voice) / before)).toBeCloseTo(-12, 1);
  });
});

describe("rms and isSilent", () => {
  it("measures a sine's RMS as amplitude / sqrt(2)", () => {
    expect(rms(sine(1000, 48_000, 48_000, 10_000))).toBeCloseTo(10_000 / Math.SQRT2, 0);
    expect(rms(new Int16Array(0))).toBe(0);
  });

  it("tells digital silence and codec hiss from speech-level audio", () => {
    expect(isSilent(new Int16Array(960))).toBe(true);
    expect(isSilent(whiteNoise(960, 2, 20))).toBe(true);
    expect(isSilent(sine(200, 48_000, 960, 1_000))).toBe(false);
    expect(isSilent(sine(200, 48_000, 960, 1_000), 1_000)).toBe(true);
  });

  it("saturate16 rounds and clamps", () => {
    expect([saturate16(1.5), saturate16(-1.4), saturate16(40_000), saturate16(-40_000)]).toEqual([
      2, -1, 32767, -32768,
    ]);
  });
});
