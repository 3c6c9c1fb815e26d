/**
 * PCM16 <-> base64 for the wire. pcm16 on the wire is little-endian, which is the byte order of
 * Int16Array on every platform Node supports for this bot (x64, arm64).
 */

const APPEND_PREFIX = '{"type":"input_audio_buffer.append","audio":"';
const APPEND_SUFFIX = '"}';

/** The `input_audio_buffer.append` frame for some audio, built without an event object. */
export function appendEventJson(audio: Int16Array | Uint8Array): string {
  const bytes = Buffer.from(audio.buffer, audio.byteOffset, audio.byteLength);
  return APPEND_PREFIX + bytes.toString("base64") + APPEND_SUFFIX;
}

/** Bytes a base64 string of `byteLength` bytes takes. */
export function base64Length(byteLength: number): number {
  return Math.ceil(byteLength / 3) * 4;
}

/**
 * Decodes base64 PCM16 into one reusable buffer. The returned view is overwritten by the next
 * call: listeners copy what they keep.
 */
export class Base64PcmDecoder {
  #bytes = Buffer.from(new ArrayBuffer(16_384));
  #samples = new Int16Array(this.#bytes.buffer);

  /** The samples, or undefined when the text is not canonical base64. */
  decode(base64: string): Int16Array | undefined {
    const length = base64.length;
    if (length % 4 !== 0) return undefined;
    const padding = length === 0 ? 0 : base64.endsWith("==") ? 2 : base64.endsWith("=") ? 1 : 0;
    const expected = (length / 4) * 3 - padding;
    if (expected > this.#bytes.length) {
      let size = this.#bytes.length;
      while (size < expected) size *= 2;
      this.#bytes = Buffer.from(new ArrayBuffer(size));
      this.#samples = new Int16Array(this.#bytes.buffer);
    }
    // Node skips characters outside the alphabet, so a short write exposes corrupt input.
    const written = this.#bytes.write(base64, 0, "base64");
    if (written !== expected) return undefined;
    return this.#samples.subarray(0, written >> 1);
  }
}
