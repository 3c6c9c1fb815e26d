import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { snrDb } from "../../src/audio/analysis.ts";
import { decodeALaw, decodeMuLaw, encodeALaw, encodeMuLaw } from "../../src/audio/g711.ts";
import { createInputResampler } from "../../src/audio/resample.ts";
import { readWav } from "../../src/audio/wav.ts";

const LAWS = [
  { name: "mu-law", encode: encodeMuLaw, decode: decodeMuLaw, peak: 32_124, zero: 0xff },
  { name: "A-law", encode: encodeALaw, decode: decodeALaw, peak: 32_256, zero: 0xd5 },
];

const EVERY_SAMPLE = Int16Array.from({ length: 65_536 }, (_, i) => i - 32_768);
const EVERY_CODE = Uint8Array.from({ length: 256 }, (_, i) => i);

function roundTrip(law: (typeof LAWS)[number], pcm: Int16Array): Int16Array {
  const codes = new Uint8Array(pcm.length);
  const back = new Int16Array(pcm.length);
  expect(law.encode(pcm, codes)).toBe(pcm.length);
  expect(law.decode(codes, back)).toBe(pcm.length);
  return back;
}

for (const law of LAWS) {
  describe(law.name, () => {
    it("round-trips every 16-bit value within its logarithmic step (|error| <= |x|/32 + 8)", () => {
      const back = roundTrip(law, EVERY_SAMPLE);
      for (let i = 0; i < EVERY_SAMPLE.length; i++) {
        const x = EVERY_SAMPLE[i]!;
        const clipped = Math.max(-law.peak, Math.min(law.peak, x));
        expect(Math.abs(back[i]! - clipped)).toBeLessThanOrEqual(Math.abs(clipped) / 32 + 8);
      }
    });

    it(`clips at +-${law.peak} and is symmetric`, () => {
      const decoded = new Int16Array(256);
      law.decode(EVERY_CODE, decoded);
      expect(Math.max(...decoded)).toBe(law.peak);
      expect(Math.min(...decoded)).toBe(-law.peak);
      expect(Array.from(roundTrip(law, Int16Array.of(32_767, -32_768)))).toEqual([law.peak, -law.peak]);
    });

    it(`encodes silence as 0x${law.zero.toString(16)} and re-encodes every decoded value to the same value`, () => {
      const code = new Uint8Array(1);
      law.encode(Int16Array.of(0), code);
      expect(code[0]).toBe(law.zero);
      const decoded = new Int16Array(256);
      law.decode(EVERY_CODE, decoded);
      expect(roundTrip(law, decoded)).toEqual(decoded);
    });

    it("keeps speech at telephone quality (SNR >= 30 dB at 8 kHz)", () => {
      const wav = readWav(readFileSync(new URL("../fixtures/speech-weather-question.wav", import.meta.url)));
      const third = createInputResampler(16_000).process(wav.samples).slice();
      const speech = third.filter((_, i) => i % 2 === 0); // 16 -> 8 kHz: only the level matters here
      expect(snrDb(speech, roundTrip(law, speech))).toBeGreaterThan(30);
    });

    it("refuses an output buffer that is too small", () => {
      expect(() => law.encode(new Int16Array(160), new Uint8Array(159))).toThrow(/needs 160/);
      expect(() => law.decode(new Uint8Array(160), new Int16Array(10))).toThrow(RangeError);
    });
  });
}
