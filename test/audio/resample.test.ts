import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  aliasRejectionDb,
  bandNoise,
  chirp,
  frequencyGrid,
  passbandGainsDb,
  powerDb,
  type Resample,
  rippleDb,
  runStreaming,
  sine,
} from "../../src/audio/analysis.ts";
import { rms } from "../../src/audio/pcm.ts";
import { createInputResampler, type StreamResampler } from "../../src/audio/resample.ts";
import { readWav } from "../../src/audio/wav.ts";

const to24 = (): StreamResampler => createInputResampler(24_000);
const to16 = (): StreamResampler => createInputResampler(16_000);

/** One call on the whole signal, the output copied out of the reused buffer. */
function oneShot(make: () => StreamResampler): Resample {
  const resampler = make();
  return (input) => resampler.process(input).slice();
}

/** Drops every other sample: what the filter exists to improve on. */
const naiveHalve: Resample = (input) => input.filter((_, i) => i % 2 === 0);

/** Without the first and last 100 samples: a signal switched on or off abruptly splatters everywhere. */
function settled(output: Int16Array): Int16Array {
  return output.subarray(100, output.length - 100);
}

function speech48k(): Int16Array {
  return readWav(readFileSync(new URL("../fixtures/speech-meeting-summary.wav", import.meta.url))).samples;
}

describe("passband: flat within 0.5 dB up to 0.8 of the lower Nyquist rate", () => {
  const cases = [
    { name: "48 -> 24 kHz", make: to24, rate: 48_000, edge: 9_600 },
    { name: "48 -> 16 kHz", make: to16, rate: 48_000, edge: 6_400 },
  ];
  for (const { name, make, rate, edge } of cases) {
    it(`${name}: tones from 50 Hz to ${edge} Hz keep their level`, () => {
      const gains = passbandGainsDb(() => oneShot(make), rate, frequencyGrid(50, edge, 40));
      expect(rippleDb(gains)).toBeLessThan(0.5);
      for (const gain of gains) expect(Math.abs(gain)).toBeLessThan(0.25);
    });
  }

  it("48 -> 24 kHz: a sweep across the passband comes out at the same level", () => {
    const input = chirp(100, 9_600, 48_000, 48_000);
    const output = oneShot(to24)(input);
    expect(Math.abs(powerDb(rms(output.subarray(100)) ** 2 / rms(input) ** 2))).toBeLessThan(0.5);
  });
});

describe("anti-aliasing: whatever would fold is attenuated by at least 60 dB", () => {
  it("48 -> 24 kHz: tones from 12 kHz to 24 kHz", () => {
    expect(aliasRejectionDb(() => oneShot(to24), 48_000, 24_000, 12_000, 23_990, 80)).toBeGreaterThan(60);
  });

  it("48 -> 16 kHz: tones from 8 kHz to 24 kHz", () => {
    expect(aliasRejectionDb(() => oneShot(to16), 48_000, 16_000, 8_000, 23_990, 100)).toBeGreaterThan(60);
  });

  it("48 -> 24 kHz: a sweep from 12 kHz to 23 kHz all but vanishes", () => {
    const input = chirp(12_000, 23_000, 48_000, 48_000);
    const output = oneShot(to24)(input);
    expect(powerDb(rms(settled(output)) ** 2 / rms(input) ** 2)).toBeLessThan(-60);
  });

  it("48 -> 16 kHz: noise between 8 kHz and 23.5 kHz all but vanishes", () => {
    const input = bandNoise(8_000, 23_500, 48_000, 32_768, 3);
    const output = oneShot(to16)(input);
    expect(powerDb(rms(settled(output)) ** 2 / rms(input) ** 2)).toBeLessThan(-60);
  });

  it("the measurement catches aliasing: dropping every other sample fails it", () => {
    expect(aliasRejectionDb(() => naiveHalve, 48_000, 24_000, 12_000, 23_990, 20)).toBeLessThan(1);
    const input = chirp(12_000, 23_000, 48_000, 48_000);
    expect(powerDb(rms(naiveHalve(input)) ** 2 / rms(input) ** 2)).toBeGreaterThan(-1);
  });
});

describe("delay", () => {
  it("is at most 2 ms, as declared and as measured on an impulse", () => {
    for (const make of [to24, to16]) {
      const resampler = make();
      expect(resampler.delayMs).toBeLessThanOrEqual(2);
      const impulse = new Int16Array(resampler.inputRate / 10);
      impulse[0] = 30_000;
      const response = Array.from(resampler.process(impulse));
      const peak = response.indexOf(Math.max(...response));
      const measuredMs = (peak / resampler.outputRate) * 1000;
      expect(Math.abs(measuredMs - resampler.delayMs)).toBeLessThanOrEqual(1000 / resampler.outputRate);
    }
  });
});

describe("streaming: state carries across calls", () => {
  const speech = speech48k().subarray(0, 48_000 * 2);

  it("48 -> 24 and 48 -> 16 kHz: frame by frame (960 samples) equals one call on the whole", () => {
    for (const make of [to24, to16]) {
      const streamed = runStreaming((chunk) => make().process(chunk), speech, [speech.length]);
      const resampler = make();
      expect(runStreaming((chunk) => resampler.process(chunk), speech, [960])).toEqual(streamed);
    }
  });

  it("48 -> 16 kHz: uneven pieces (not multiples of 3) equal one call on the whole", () => {
    const whole = oneShot(to16)(speech);
    const resampler = to16();
    expect(runStreaming((chunk) => resampler.process(chunk), speech, [1, 2, 959, 961, 4, 3000])).toEqual(
      whole,
    );
  });

  it("a sine streamed in 20 ms frames has no discontinuity at frame edges", () => {
    const cases = [
      { make: to24, inputRate: 48_000, frame: 960 },
      { make: to16, inputRate: 48_000, frame: 960 },
    ];
    for (const { make, inputRate, frame } of cases) {
      const resampler = make();
      const output = runStreaming((chunk) => resampler.process(chunk), sine(440, inputRate, inputRate), [
        frame,
      ]);
      // A sampled sine obeys y[n-1] + y[n+1] = 2 cos(w) y[n]; a click at an edge would break it.
      const w = (2 * Math.PI * 440) / resampler.outputRate;
      let worst = 0;
      for (let n = 200; n < output.length - 1; n++) {
        worst = Math.max(worst, Math.abs(output[n - 1]! + output[n + 1]! - 2 * Math.cos(w) * output[n]!));
      }
      expect(worst).toBeLessThan(4);
    }
  });

  it("reset() forgets history: the output then matches a new resampler's", () => {
    for (const make of [to24, to16]) {
      const used = make();
      used.process(speech.subarray(0, 1_001));
      used.reset();
      const fresh = make();
      expect(used.process(speech.subarray(5_000, 5_960)).slice()).toEqual(
        fresh.process(speech.subarray(5_000, 5_960)),
      );
    }
  });

  it("returns a view on one reused buffer in steady state", () => {
    const resampler = to24();
    const first = resampler.process(speech.subarray(0, 960));
    expect(resampler.process(speech.subarray(960, 1_920))).toBe(first);
    expect(first.length).toBe(480);
  });

  it("refuses a rate it has no filter for", () => {
    expect(() => createInputResampler(44_100 as 24_000)).toThrow(
      /No input resampler from 48000 Hz to 44100 Hz/,
    );
  });
});
