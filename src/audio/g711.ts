/**
 * G.711 mu-law and A-law (ITU-T G.711, the companding of Sun's reference g711.c), for Voice Live's
 * `g711_ulaw` / `g711_alaw` 8 kHz formats. Both directions are table lookups: 256 entries to decode,
 * 65536 (one per PCM16 value) to encode, all built once at module load.
 */

function muLawToLinear(code: number): number {
  const inverted = ~code & 0xff;
  const magnitude = (((inverted & 0x0f) << 3) + 0x84) << ((inverted & 0x70) >> 4);
  return inverted & 0x80 ? 0x84 - magnitude : magnitude - 0x84;
}

const MU_LAW_SEGMENT_ENDS = [0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff];
const A_LAW_SEGMENT_ENDS = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];

function segmentOf(value: number, ends: readonly number[]): number {
  let segment = 0;
  while (segment < ends.length && value > ends[segment]!) segment++;
  return segment;
}

function linearToMuLaw(sample: number): number {
  // mu-law works on 14-bit magnitudes, biased by 33 so every segment starts on a power of two.
  let value = sample >> 2;
  let mask = 0xff;
  if (value < 0) {
    value = -value;
    mask = 0x7f;
  }
  value = Math.min(value, 8159) + 0x21;
  const segment = segmentOf(value, MU_LAW_SEGMENT_ENDS);
  if (segment >= 8) return 0x7f ^ mask;
  return ((segment << 4) | ((value >> (segment + 1)) & 0x0f)) ^ mask;
}

function aLawToLinear(code: number): number {
  const toggled = code ^ 0x55;
  const segment = (toggled & 0x70) >> 4;
  let magnitude = (toggled & 0x0f) << 4;
  if (segment === 0) magnitude += 8;
  else magnitude = (magnitude + 0x108) << (segment - 1);
  return toggled & 0x80 ? magnitude : -magnitude;
}

function linearToALaw(sample: number): number {
  // A-law works on 13-bit values; negatives are one's-complemented.
  let value = sample >> 3;
  let mask = 0xd5;
  if (value < 0) {
    mask = 0x55;
    value = -value - 1;
  }
  const segment = segmentOf(value, A_LAW_SEGMENT_ENDS);
  if (segment >= 8) return 0x7f ^ mask;
  const mantissa = segment < 2 ? (value >> 1) & 0x0f : (value >> segment) & 0x0f;
  return ((segment << 4) | mantissa) ^ mask;
}

function decodeTable(toLinear: (code: number) => number): Int16Array {
  const table = new Int16Array(256);
  for (let code = 0; code < 256; code++) table[code] = toLinear(code);
  return table;
}

/** Indexed by the sample's 16-bit pattern (sample & 0xffff). */
function encodeTable(toCode: (sample: number) => number): Uint8Array {
  const table = new Uint8Array(65_536);
  for (let sample = -32_768; sample < 32_768; sample++) table[sample & 0xffff] = toCode(sample);
  return table;
}

const MU_LAW_DECODE = decodeTable(muLawToLinear);
const A_LAW_DECODE = decodeTable(aLawToLinear);
const MU_LAW_ENCODE = encodeTable(linearToMuLaw);
const A_LAW_ENCODE = encodeTable(linearToALaw);

function checkRoom(name: string, out: Uint8Array | Int16Array, needed: number): void {
  if (out.length < needed)
    throw new RangeError(`${name}: output holds ${out.length} samples, needs ${needed}`);
}

function encodeWith(table: Uint8Array, name: string, pcm: Int16Array, out: Uint8Array): number {
  checkRoom(name, out, pcm.length);
  for (let i = 0; i < pcm.length; i++) out[i] = table[pcm[i]! & 0xffff]!;
  return pcm.length;
}

function decodeWith(table: Int16Array, name: string, codes: Uint8Array, out: Int16Array): number {
  checkRoom(name, out, codes.length);
  for (let i = 0; i < codes.length; i++) out[i] = table[codes[i]!]!;
  return codes.length;
}

/** PCM16 to mu-law bytes. Returns the number of bytes written. */
export function encodeMuLaw(pcm: Int16Array, out: Uint8Array): number {
  return encodeWith(MU_LAW_ENCODE, "encodeMuLaw", pcm, out);
}

/** Mu-law bytes to PCM16. Returns the number of samples written. */
export function decodeMuLaw(codes: Uint8Array, out: Int16Array): number {
  return decodeWith(MU_LAW_DECODE, "decodeMuLaw", codes, out);
}

/** PCM16 to A-law bytes. Returns the number of bytes written. */
export function encodeALaw(pcm: Int16Array, out: Uint8Array): number {
  return encodeWith(A_LAW_ENCODE, "encodeALaw", pcm, out);
}

/** A-law bytes to PCM16. Returns the number of samples written. */
export function decodeALaw(codes: Uint8Array, out: Int16Array): number {
  return decodeWith(A_LAW_DECODE, "decodeALaw", codes, out);
}
