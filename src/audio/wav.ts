/** WAV (RIFF/WAVE) PCM16 reading and writing, any sample rate and channel count. */

export interface WavAudio {
  readonly sampleRate: number;
  readonly channels: number;
  /** Interleaved PCM16 samples: `channels` per frame. */
  readonly samples: Int16Array;
}

export type WavProblem =
  | "not-riff"
  | "not-wave"
  | "missing-fmt"
  | "missing-data"
  | "not-pcm"
  | "not-16-bit"
  | "truncated"
  | "invalid";

export class WavError extends Error {
  readonly problem: WavProblem;

  constructor(problem: WavProblem, message: string) {
    super(`WAV: ${message}`);
    this.name = "WavError";
    this.problem = problem;
  }
}

const WAVE_FORMAT_PCM = 0x0001;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
/** The KSDATAFORMAT_SUBTYPE GUID tail shared by every subformat whose first two bytes are a format tag. */
const SUBFORMAT_GUID_TAIL = [
  0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71,
];
const FORMAT_NAMES: Readonly<Record<number, string>> = {
  2: "Microsoft ADPCM",
  3: "IEEE float",
  6: "A-law",
  7: "mu-law",
  17: "IMA ADPCM",
  85: "MP3",
};

function fourCC(bytes: Uint8Array, offset: number): string {
  return String.fromCharCode(bytes[offset]!, bytes[offset + 1]!, bytes[offset + 2]!, bytes[offset + 3]!);
}

function describeFormat(tag: number): string {
  const hex = `0x${tag.toString(16).padStart(4, "0")}`;
  const name = FORMAT_NAMES[tag];
  return name === undefined ? hex : `${hex} (${name})`;
}

interface Format {
  readonly channels: number;
  readonly sampleRate: number;
}

function parseFormat(view: DataView, bytes: Uint8Array, offset: number, size: number): Format {
  if (size < 16) throw new WavError("invalid", `fmt chunk is ${size} bytes, needs at least 16`);
  let tag = view.getUint16(offset, true);
  const channels = view.getUint16(offset + 2, true);
  const sampleRate = view.getUint32(offset + 4, true);
  const blockAlign = view.getUint16(offset + 12, true);
  const bits = view.getUint16(offset + 14, true);
  if (tag === WAVE_FORMAT_EXTENSIBLE) {
    if (size < 40)
      throw new WavError("invalid", `WAVE_FORMAT_EXTENSIBLE fmt chunk is ${size} bytes, needs 40`);
    const subformat = offset + 24;
    const tail = bytes.subarray(subformat + 2, subformat + 16);
    if (!SUBFORMAT_GUID_TAIL.every((byte, i) => tail[i] === byte)) {
      throw new WavError("not-pcm", "not PCM: WAVE_FORMAT_EXTENSIBLE with an unknown subformat GUID");
    }
    tag = view.getUint16(subformat, true);
    if (tag !== WAVE_FORMAT_PCM) {
      throw new WavError("not-pcm", `not PCM: WAVE_FORMAT_EXTENSIBLE with subformat ${describeFormat(tag)}`);
    }
    const validBits = view.getUint16(offset + 18, true);
    if (bits === 16 && validBits !== 16 && validBits !== 0) {
      throw new WavError("not-16-bit", `not 16-bit: ${validBits} valid bits in 16-bit containers`);
    }
  }
  if (tag !== WAVE_FORMAT_PCM) throw new WavError("not-pcm", `not PCM: format tag ${describeFormat(tag)}`);
  if (bits !== 16) throw new WavError("not-16-bit", `not 16-bit: ${bits} bits per sample`);
  if (channels === 0) throw new WavError("invalid", "fmt chunk declares 0 channels");
  if (sampleRate === 0) throw new WavError("invalid", "fmt chunk declares a sample rate of 0 Hz");
  if (blockAlign !== channels * 2) {
    throw new WavError(
      "invalid",
      `block align ${blockAlign} does not match ${channels} channel(s) of 16 bits`,
    );
  }
  return { channels, sampleRate };
}

/** Parses a PCM16 WAV file. Unknown chunks (LIST, fact, cue, ...) are skipped. */
export function readWav(bytes: Uint8Array): WavAudio {
  if (bytes.length >= 4 && fourCC(bytes, 0) !== "RIFF") {
    throw new WavError("not-riff", `not a RIFF file (starts with ${JSON.stringify(fourCC(bytes, 0))})`);
  }
  if (bytes.length < 12)
    throw new WavError("truncated", `truncated: ${bytes.length} bytes, a WAV header needs 12`);
  if (fourCC(bytes, 8) !== "WAVE") {
    throw new WavError("not-wave", `not a WAVE file (RIFF form type ${JSON.stringify(fourCC(bytes, 8))})`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // The RIFF size field is not trusted: streaming writers leave it 0 or 0xFFFFFFFF.
  const end = bytes.length;
  let format: Format | undefined;
  let data: { offset: number; size: number } | undefined;
  let offset = 12;
  while (offset + 8 <= end) {
    const id = fourCC(bytes, offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === "fmt ") {
      if (body + size > end) throw new WavError("truncated", `truncated: fmt chunk declares ${size} bytes`);
      format = parseFormat(view, bytes, body, size);
    } else if (id === "data") {
      if (body + size > end) {
        throw new WavError(
          "truncated",
          `truncated: data chunk declares ${size} bytes, ${end - body} present`,
        );
      }
      data = { offset: body, size };
    }
    // Chunks are word-aligned: an odd-sized chunk is followed by one pad byte.
    offset = body + size + (size & 1);
  }
  if (format === undefined) throw new WavError("missing-fmt", "missing fmt chunk");
  if (data === undefined) throw new WavError("missing-data", "missing data chunk");
  const frameBytes = format.channels * 2;
  if (data.size % frameBytes !== 0) {
    throw new WavError(
      "truncated",
      `truncated: data ends mid-frame (${data.size} bytes, frames of ${frameBytes})`,
    );
  }
  const samples = new Int16Array(data.size / 2);
  for (let i = 0; i < samples.length; i++) samples[i] = view.getInt16(data.offset + 2 * i, true);
  return { sampleRate: format.sampleRate, channels: format.channels, samples };
}

/** Writes a canonical 44-byte-header PCM16 WAV file. */
export function writeWav(audio: WavAudio): Buffer {
  const { sampleRate, channels, samples } = audio;
  if (!Number.isInteger(channels) || channels < 1 || channels > 0xffff) {
    throw new WavError("invalid", `cannot write ${channels} channels`);
  }
  if (!Number.isInteger(sampleRate) || sampleRate < 1 || sampleRate > 0xffffffff) {
    throw new WavError("invalid", `cannot write a sample rate of ${sampleRate} Hz`);
  }
  if (samples.length % channels !== 0) {
    throw new WavError(
      "invalid",
      `${samples.length} samples do not divide into frames of ${channels} channels`,
    );
  }
  const dataBytes = samples.length * 2;
  const out = Buffer.alloc(44 + dataBytes);
  out.write("RIFF", 0, "latin1");
  out.writeUInt32LE(36 + dataBytes, 4);
  out.write("WAVE", 8, "latin1");
  out.write("fmt ", 12, "latin1");
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(WAVE_FORMAT_PCM, 20);
  out.writeUInt16LE(channels, 22);
  out.writeUInt32LE(sampleRate, 24);
  out.writeUInt32LE(sampleRate * channels * 2, 28);
  out.writeUInt16LE(channels * 2, 32);
  out.writeUInt16LE(16, 34);
  out.write("data", 36, "latin1");
  out.writeUInt32LE(dataBytes, 40);
  for (let i = 0; i < samples.length; i++) out.writeInt16LE(samples[i]!, 44 + 2 * i);
  return out;
}
