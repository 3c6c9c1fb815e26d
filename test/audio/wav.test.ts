import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { whiteNoise } from "../../src/audio/analysis.ts";
import { readWav, WavError, type WavProblem, writeWav } from "../../src/audio/wav.ts";

interface FmtFields {
  readonly tag?: number;
  readonly channels?: number;
  readonly sampleRate?: number;
  readonly bits?: number;
  readonly blockAlign?: number;
  /** WAVE_FORMAT_EXTENSIBLE: the subformat tag (first two bytes of the GUID). */
  readonly subformat?: number;
}

function fmtChunk(fields: FmtFields = {}): Buffer {
  const channels = fields.channels ?? 1;
  const bits = fields.bits ?? 16;
  const extensible = fields.subformat !== undefined;
  const body = Buffer.alloc(extensible ? 40 : 16);
  body.writeUInt16LE(fields.tag ?? (extensible ? 0xfffe : 1), 0);
  body.writeUInt16LE(channels, 2);
  body.writeUInt32LE(fields.sampleRate ?? 16_000, 4);
  body.writeUInt32LE((fields.sampleRate ?? 16_000) * channels * (bits / 8), 8);
  body.writeUInt16LE(fields.blockAlign ?? channels * (bits / 8), 12);
  body.writeUInt16LE(bits, 14);
  if (extensible) {
    body.writeUInt16LE(22, 16);
    body.writeUInt16LE(bits, 18);
    body.writeUInt32LE(channels === 2 ? 3 : 4, 20);
    body.writeUInt16LE(fields.subformat!, 24);
    Buffer.from("000000001000800000aa00389b71", "hex").copy(body, 26);
  }
  return chunk("fmt ", body);
}

function chunk(id: string, body: Buffer, declaredSize = body.length): Buffer {
  const header = Buffer.alloc(8);
  header.write(id, 0, "latin1");
  header.writeUInt32LE(declaredSize, 4);
  return Buffer.concat([header, body, body.length % 2 === 1 ? Buffer.alloc(1) : Buffer.alloc(0)]);
}

function riff(...chunks: Buffer[]): Buffer {
  const body = Buffer.concat([Buffer.from("WAVE", "latin1"), ...chunks]);
  const header = Buffer.alloc(8);
  header.write("RIFF", 0, "latin1");
  header.writeUInt32LE(body.length, 4);
  return Buffer.concat([header, body]);
}

function pcmBytes(samples: Int16Array): Buffer {
  return Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
}

function expectWavError(bytes: Uint8Array, problem: WavProblem, message: RegExp): void {
  let caught: unknown;
  try {
    readWav(bytes);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(WavError);
  expect((caught as WavError).problem).toBe(problem);
  expect((caught as WavError).message).toMatch(message);
}

describe("WAV round trips", () => {
  for (const [sampleRate, channels] of [
    [48_000, 1],
    [48_000, 2],
    [24_000, 1],
    [8_000, 1],
    [44_100, 6],
  ] as const) {
    it(`${sampleRate} Hz, ${channels} channel(s)`, () => {
      const samples = whiteNoise(channels * 1_001, sampleRate + channels, 32_000);
      const bytes = writeWav({ sampleRate, channels, samples });
      expect(bytes.length).toBe(44 + samples.length * 2);
      expect(readWav(bytes)).toEqual({ sampleRate, channels, samples });
    });
  }

  it("reads the speech fixtures: 48 kHz mono, several seconds", () => {
    const wav = readWav(readFileSync(new URL("../fixtures/speech-interruption.wav", import.meta.url)));
    expect(wav.sampleRate).toBe(48_000);
    expect(wav.channels).toBe(1);
    expect(wav.samples.length).toBeGreaterThan(48_000 * 3);
  });

  it("reads from a Buffer that is a slice of a larger, unaligned one", () => {
    const samples = Int16Array.of(1, -2, 3, -4);
    const file = writeWav({ sampleRate: 8_000, channels: 1, samples });
    const pool = Buffer.concat([Buffer.alloc(3), file]);
    expect(readWav(pool.subarray(3)).samples).toEqual(samples);
  });
});

describe("WAV chunk layout", () => {
  const samples = Int16Array.of(100, -100, 200, -200);

  it("skips LIST and other chunks, including an odd-sized one with its pad byte", () => {
    const list = chunk("LIST", Buffer.from("INFOISFT\x05\x00\x00\x00sox!\x00", "latin1"));
    const odd = chunk("junk", Buffer.from("abc"));
    const bytes = riff(fmtChunk(), list, odd, chunk("data", pcmBytes(samples)));
    expect(readWav(bytes).samples).toEqual(samples);
  });

  it("accepts the data chunk before the fmt chunk", () => {
    expect(readWav(riff(chunk("data", pcmBytes(samples)), fmtChunk())).samples).toEqual(samples);
  });

  it("accepts WAVE_FORMAT_EXTENSIBLE with the PCM subformat", () => {
    const bytes = riff(fmtChunk({ subformat: 1, channels: 2 }), chunk("data", pcmBytes(samples)));
    expect(readWav(bytes)).toEqual({ sampleRate: 16_000, channels: 2, samples });
  });

  it("ignores a wrong RIFF size (streaming writers leave it 0)", () => {
    const bytes = riff(fmtChunk(), chunk("data", pcmBytes(samples)));
    bytes.writeUInt32LE(0, 4);
    expect(readWav(bytes).samples).toEqual(samples);
  });
});

describe("WAV errors name the problem", () => {
  const data = chunk("data", pcmBytes(Int16Array.of(1, 2, 3, 4)));

  it("not RIFF", () => {
    expectWavError(
      Buffer.from("ID3\x03 an mp3 file"),
      "not-riff",
      /not a RIFF file \(starts with "ID3\\u0003"\)/,
    );
  });

  it("not WAVE", () => {
    const bytes = riff(fmtChunk(), data);
    bytes.write("AVI ", 8, "latin1");
    expectWavError(bytes, "not-wave", /not a WAVE file \(RIFF form type "AVI "\)/);
  });

  it("missing fmt chunk", () => {
    expectWavError(riff(data), "missing-fmt", /missing fmt chunk/);
  });

  it("missing data chunk", () => {
    expectWavError(riff(fmtChunk()), "missing-data", /missing data chunk/);
  });

  it("not PCM: IEEE float", () => {
    expectWavError(
      riff(fmtChunk({ tag: 3, bits: 32 }), data),
      "not-pcm",
      /not PCM: format tag 0x0003 \(IEEE float\)/,
    );
  });

  it("not PCM: WAVE_FORMAT_EXTENSIBLE with a float subformat", () => {
    expectWavError(
      riff(fmtChunk({ subformat: 3, bits: 32 }), data),
      "not-pcm",
      /not PCM: WAVE_FORMAT_EXTENSIBLE with subformat 0x0003/,
    );
  });

  it("not 16-bit: 24-bit PCM", () => {
    expectWavError(riff(fmtChunk({ bits: 24 }), data), "not-16-bit", /not 16-bit: 24 bits per sample/);
  });

  it("not 16-bit: 8-bit PCM", () => {
    expectWavError(riff(fmtChunk({ bits: 8 }), data), "not-16-bit", /not 16-bit: 8 bits per sample/);
  });

  it("truncated: shorter than a header", () => {
    expectWavError(Buffer.from("RIFF\x10\x00"), "truncated", /truncated: 6 bytes, a WAV header needs 12/);
  });

  it("truncated: data chunk cut short", () => {
    const whole = riff(fmtChunk(), chunk("data", pcmBytes(new Int16Array(100))));
    expectWavError(
      whole.subarray(0, whole.length - 51),
      "truncated",
      /truncated: data chunk declares 200 bytes, 149/,
    );
  });

  it("truncated: data ends mid-frame", () => {
    const stereoFmt = fmtChunk({ channels: 2 });
    expectWavError(riff(stereoFmt, chunk("data", Buffer.alloc(6))), "truncated", /data ends mid-frame/);
  });

  it("invalid fmt: block align that does not match the channels", () => {
    expectWavError(
      riff(fmtChunk({ channels: 2, blockAlign: 2 }), data),
      "invalid",
      /block align 2 does not match 2/,
    );
  });

  it("writing refuses samples that do not fill whole frames", () => {
    expect(() => writeWav({ sampleRate: 8_000, channels: 2, samples: new Int16Array(3) })).toThrow(WavError);
  });
});
