import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { bestLag, correlation, seededRandom, snrDb } from "../../src/audio/analysis.ts";
import { FRAME_SAMPLES_48K, FRAME_SAMPLES_48K_STEREO } from "../../src/audio/constants.ts";
import { OpusFrameDecoder, OpusFrameEncoder } from "../../src/audio/opus.ts";
import type { OpusBackendName } from "../../src/audio/opus-backend.ts";
import { loadNativeBackend } from "../../src/audio/opus-native.ts";
import { downmixStereo, upmixMono } from "../../src/audio/pcm.ts";
import { readWav } from "../../src/audio/wav.ts";

const FIXTURES = ["interruption", "meeting-summary", "weather-question"];
const SILENCE_PACKET = Uint8Array.of(0xf8, 0xff, 0xfe);

function fixture(name: string): Int16Array {
  const wav = readWav(readFileSync(new URL(`../fixtures/speech-${name}.wav`, import.meta.url)));
  expect(wav.sampleRate).toBe(48_000);
  expect(wav.channels).toBe(1);
  return wav.samples;
}

/** Mono 48 kHz -> stereo -> Opus packets, one per whole 20 ms frame. */
function encodeMono(mono: Int16Array, encoder: OpusFrameEncoder): Buffer[] {
  const stereo = new Int16Array(FRAME_SAMPLES_48K_STEREO);
  const packets: Buffer[] = [];
  for (let at = 0; at + FRAME_SAMPLES_48K <= mono.length; at += FRAME_SAMPLES_48K) {
    upmixMono(mono.subarray(at, at + FRAME_SAMPLES_48K), stereo);
    packets.push(encoder.encode(stereo));
  }
  encoder.destroy();
  return packets;
}

function decodeToMono(packets: readonly Uint8Array[], decoder: OpusFrameDecoder): Int16Array {
  const out = new Int16Array(packets.length * FRAME_SAMPLES_48K);
  const mono = new Int16Array(FRAME_SAMPLES_48K);
  packets.forEach((packet, i) => {
    downmixStereo(decoder.decode(packet), mono);
    out.set(mono, i * FRAME_SAMPLES_48K);
  });
  return out;
}

function isAllZero(samples: Int16Array): boolean {
  return samples.every((sample) => sample === 0);
}

/** Both builds where the native addon is installed (CI builds it); opusscript always. */
const CODECS: OpusBackendName[] =
  loadNativeBackend() instanceof Error ? ["opusscript"] : ["native", "opusscript"];

describe.each(CODECS)("Opus with %s", (codec) => {
  const newDecoder = () => new OpusFrameDecoder({ codec });
  const newEncoder = (options: { bitrate?: number } = {}) => new OpusFrameEncoder({ codec, ...options });

  describe("Opus round trip of speech (48 kHz, upmix, encode, decode, downmix)", () => {
    /*
     * Opus is perceptual, so the waveform is not preserved exactly. At the default 64 kbps these
     * fixtures come back at 17.8-19.5 dB SNR and correlation 0.992-0.994 once the codec's 6.5 ms
     * look-ahead (312 samples) is aligned out; the VOIP application gives only ~10 dB. A threshold of
     * 14 dB / 0.98 leaves margin for libopus version changes while failing on a wrong application,
     * byte-order or framing bug (those give ~10 dB, 0 dB or less).
     */
    for (const name of FIXTURES) {
      it(`keeps speech-${name}.wav recognisable (SNR >= 14 dB, correlation >= 0.98)`, () => {
        const input = fixture(name);
        const decoder = newDecoder();
        const output = decodeToMono(encodeMono(input, newEncoder()), decoder);
        expect(decoder.errors).toBe(0);
        decoder.destroy();

        const window = 48_000;
        const lag = bestLag(input.subarray(24_000, 24_000 + window), output.subarray(24_000), 1_000);
        expect(lag).toBeGreaterThanOrEqual(300);
        expect(lag).toBeLessThanOrEqual(330);
        const length = output.length - lag;
        const expected = input.subarray(0, length);
        const actual = output.subarray(lag, lag + length);
        expect(snrDb(expected, actual)).toBeGreaterThan(14);
        expect(correlation(expected, actual)).toBeGreaterThan(0.98);
      });
    }
  });

  describe("OpusFrameDecoder on bad input", () => {
    const speech = fixture("weather-question").subarray(24_000, 24_000 + 50 * FRAME_SAMPLES_48K);
    const speechPackets = encodeMono(speech, newEncoder());

    it("decodes Discord's F8 FF FE silence frame to silence without counting an error", () => {
      const decoder = newDecoder();
      const frame = decoder.decode(SILENCE_PACKET);
      expect(frame.length).toBe(FRAME_SAMPLES_48K_STEREO);
      expect(isAllZero(frame)).toBe(true);
      for (const packet of speechPackets) decoder.decode(packet);
      decoder.decode(SILENCE_PACKET); // carries the tail of the last speech frame's overlap
      expect(isAllZero(decoder.decode(SILENCE_PACKET))).toBe(true);
      expect(decoder.errors).toBe(0);
      decoder.destroy();
    });

    it("turns an empty packet into one frame of silence and counts it", () => {
      const decoder = newDecoder();
      decoder.decode(speechPackets[10]!);
      const frame = decoder.decode(new Uint8Array(0));
      expect(frame.length).toBe(FRAME_SAMPLES_48K_STEREO);
      expect(isAllZero(frame)).toBe(true);
      expect(decoder.errors).toBe(1);
      decoder.destroy();
    });

    it("turns truncated and oversized packets into silence and counts each", () => {
      const decoder = newDecoder();
      // Two 10 ms CELT frames, code 2 (explicit first length): the first claims 200 bytes, 10 arrived.
      const truncated = Uint8Array.of(0xf2, 200, ...new Uint8Array(10).fill(0x55));
      expect(isAllZero(decoder.decode(truncated))).toBe(true);
      // Two 10 ms frames, code 1 (equal sizes): an odd payload cannot split.
      expect(isAllZero(decoder.decode(Uint8Array.of(0xf1, 1, 2, 3)))).toBe(true);
      // Longer than any legal Opus packet.
      expect(isAllZero(decoder.decode(new Uint8Array(5000).fill(0x42)))).toBe(true);
      // Legal Opus but 60 ms long, which is not a Discord frame.
      expect(isAllZero(decoder.decode(Uint8Array.of(0x18, 0x00, 0x00)))).toBe(true);
      expect(decoder.errors).toBe(4);
      decoder.destroy();
    });

    it("never throws on random bytes, counts what libopus rejects, and recovers for good packets", () => {
      const random = seededRandom(7);
      const decoder = newDecoder();
      let rejected = 0;
      for (let i = 0; i < 1_000; i++) {
        const packet = new Uint8Array(1 + Math.floor(random() * 300));
        for (let j = 0; j < packet.length; j++) packet[j] = Math.floor(random() * 256);
        const before = decoder.errors;
        const frame = decoder.decode(packet);
        expect(frame.length).toBe(FRAME_SAMPLES_48K_STEREO);
        if (decoder.errors > before) {
          rejected++;
          expect(isAllZero(frame)).toBe(true);
        }
      }
      expect(rejected).toBeGreaterThan(100);
      expect(decoder.errors).toBe(rejected);

      const after = decodeToMono(speechPackets, decoder);
      const reference = decodeToMono(speechPackets, newDecoder());
      // The first frames still carry garbage in the decoder's overlap state; then it matches.
      const settled = 5 * FRAME_SAMPLES_48K;
      expect(correlation(reference.subarray(settled), after.subarray(settled))).toBeGreaterThan(0.99);
      decoder.destroy();
    });

    it("survives ten thousand garbage packets shaped like 20 ms Opus with the codec heap intact", () => {
      const random = seededRandom(11);
      // TOC configurations of 20 ms frames (code 0) and of 10 ms frames (two per packet, code 1 or 2).
      const twentyMs = [1, 5, 9, 13, 15, 19, 23, 27, 31];
      const tenMs = [0, 4, 8, 12, 14, 18, 22, 26, 30];
      const decoder = newDecoder();
      for (let i = 0; i < 10_000; i++) {
        const packet = new Uint8Array(1 + Math.floor(random() * 400));
        for (let j = 0; j < packet.length; j++) packet[j] = Math.floor(random() * 256);
        const stereo = packet[0]! & 0x04;
        packet[0] =
          i % 2 === 0
            ? (twentyMs[i % twentyMs.length]! << 3) | stereo
            : (tenMs[i % tenMs.length]! << 3) | stereo | (1 + (i % 4 === 1 ? 1 : 0));
        expect(decoder.decode(packet).length).toBe(FRAME_SAMPLES_48K_STEREO);
      }
      const fresh = newDecoder();
      const reference = decodeToMono(speechPackets, fresh);
      expect(
        correlation(speech.subarray(0, reference.length - 312), reference.subarray(312)),
      ).toBeGreaterThan(0.98);
      fresh.destroy();
      decoder.destroy();
    });

    it("keeps the returned frame valid until the next call only (one reused buffer)", () => {
      const decoder = newDecoder();
      const first = decoder.decode(speechPackets[20]!);
      const second = decoder.decode(speechPackets[21]!);
      expect(second).toBe(first);
      decoder.destroy();
    });
  });

  describe("Opus codec lifetime and memory", () => {
    it("runs more simultaneous codecs than one WebAssembly heap holds, each independent", () => {
      const speech = fixture("interruption").subarray(24_000);
      const streams = 80;
      const framesPerStream = 6;
      const sources = Array.from({ length: streams }, (_, k) =>
        speech.subarray(k * 960, k * 960 + framesPerStream * FRAME_SAMPLES_48K),
      );
      const expected = sources.map((source) => {
        const decoder = newDecoder();
        const out = decodeToMono(encodeMono(source, newEncoder()), decoder);
        decoder.destroy();
        return out;
      });

      const encoders = sources.map(() => newEncoder());
      const decoders = sources.map(() => newDecoder());
      const stereo = new Int16Array(FRAME_SAMPLES_48K_STEREO);
      const mono = new Int16Array(FRAME_SAMPLES_48K);
      for (let frame = 0; frame < framesPerStream; frame++) {
        for (let k = 0; k < streams; k++) {
          const at = frame * FRAME_SAMPLES_48K;
          upmixMono(sources[k]!.subarray(at, at + FRAME_SAMPLES_48K), stereo);
          downmixStereo(decoders[k]!.decode(encoders[k]!.encode(stereo)), mono);
          expect(mono).toEqual(expected[k]!.subarray(at, at + FRAME_SAMPLES_48K));
        }
      }
      for (const codec of [...encoders, ...decoders]) codec.destroy();
    });

    it("frees codec memory on destroy(), so creating and destroying many never runs out", () => {
      for (let i = 0; i < 400; i++) {
        const decoder = newDecoder();
        const encoder = newEncoder();
        decoder.decode(encoder.encode(new Int16Array(FRAME_SAMPLES_48K_STEREO)));
        decoder.destroy();
        encoder.destroy();
      }
    });

    it("refuses use after destroy() with a clear error, and tolerates a second destroy()", () => {
      const decoder = newDecoder();
      decoder.destroy();
      decoder.destroy();
      expect(() => decoder.decode(SILENCE_PACKET)).toThrow(/OpusFrameDecoder used after destroy/);
      const encoder = newEncoder();
      encoder.destroy();
      expect(() => encoder.encode(new Int16Array(FRAME_SAMPLES_48K_STEREO))).toThrow(/after destroy/);
    });

    it("rejects a wrongly sized frame and an impossible bitrate", () => {
      const encoder = newEncoder({ bitrate: 96_000 });
      expect(() => encoder.encode(new Int16Array(960))).toThrow(/needs 1920 interleaved samples, got 960/);
      encoder.destroy();
      expect(() => newEncoder({ bitrate: 1_000 })).toThrow(RangeError);
    });

    it("encodes at the requested bitrate (bigger packets for more bits)", () => {
      const speech = fixture("meeting-summary").subarray(24_000, 24_000 + 50 * FRAME_SAMPLES_48K);
      const bytes = (bitrate: number) =>
        encodeMono(speech, newEncoder({ bitrate })).reduce((sum, packet) => sum + packet.length, 0);
      const low = bytes(24_000);
      const high = bytes(128_000);
      expect(high).toBeGreaterThan(3 * low);
    });
  });
});

describe("native and opusscript Opus interoperate", () => {
  it.skipIf(CODECS.length < 2)("each decodes the other's packets to the same speech", () => {
    const speech = fixture("weather-question").subarray(24_000, 24_000 + 100 * FRAME_SAMPLES_48K);
    for (const [from, to] of [
      ["native", "opusscript"],
      ["opusscript", "native"],
    ] as const) {
      const packets = encodeMono(speech, new OpusFrameEncoder({ codec: from }));
      const decoder = new OpusFrameDecoder({ codec: to });
      const output = decodeToMono(packets, decoder);
      expect(decoder.errors).toBe(0);
      decoder.destroy();
      expect(snrDb(speech.subarray(0, output.length - 312), output.subarray(312))).toBeGreaterThan(14);
    }
  });
});
