/**
 * Voice Live's wire audio formats as the local server sees them: which rate each one runs at, and
 * conversion between wire bytes and mono PCM16 samples. pcm16 is little-endian, as on every platform
 * Node runs on, so it is viewed in place rather than copied.
 */

import { G711_SAMPLE_RATE } from "../audio/constants.ts";
import { decodeALaw, decodeMuLaw, encodeALaw, encodeMuLaw } from "../audio/g711.ts";
import type { InputAudioFormat, OutputAudioFormat } from "../voicelive/protocol.ts";

/** g711 is always 8 kHz; `input_audio_sampling_rate` applies to pcm16 only. */
export function inputRateOf(format: InputAudioFormat, samplingRate: number): number {
  return format === "pcm16" ? samplingRate : G711_SAMPLE_RATE;
}

export function outputRateOf(format: OutputAudioFormat): number {
  switch (format) {
    case "pcm16":
      return 24_000;
    case "pcm16_16000hz":
      return 16_000;
    default:
      return G711_SAMPLE_RATE;
  }
}

/** Decodes appended audio into PCM16, reusing one scratch buffer (the result is valid until the next call). */
export class InputDecoder {
  #scratch = new Int16Array(0);

  /** Undefined when pcm16 bytes do not hold whole samples. */
  decode(bytes: Buffer, format: InputAudioFormat): Int16Array | undefined {
    if (format === "pcm16") {
      if (bytes.length % 2 !== 0) return undefined;
      if (bytes.byteOffset % 2 === 0) return new Int16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);
      const out = this.#room(bytes.length / 2);
      for (let i = 0; i < out.length; i++) out[i] = bytes.readInt16LE(2 * i);
      return out;
    }
    const out = this.#room(bytes.length);
    if (format === "g711_ulaw") decodeMuLaw(bytes, out);
    else decodeALaw(bytes, out);
    return out;
  }

  #room(samples: number): Int16Array {
    if (this.#scratch.length < samples)
      this.#scratch = new Int16Array(Math.max(samples, 2 * this.#scratch.length));
    return this.#scratch.subarray(0, samples);
  }
}

/** Encodes PCM16 (already at the format's rate) into wire bytes. */
export function encodeOutput(pcm: Int16Array, format: OutputAudioFormat): Buffer {
  if (format === "g711_ulaw" || format === "g711_alaw") {
    const out = Buffer.allocUnsafe(pcm.length);
    if (format === "g711_ulaw") encodeMuLaw(pcm, out);
    else encodeALaw(pcm, out);
    return out;
  }
  return Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
}
