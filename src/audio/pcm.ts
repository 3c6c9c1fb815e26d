/** PCM16 helpers. Everything writes into caller-provided buffers: they run on every 20 ms frame. */

const INT16_MAX = 32_767;
const INT16_MIN = -32_768;

/** Clamps an integer into the 16-bit range. */
function clamp16(value: number): number {
  return Math.min(INT16_MAX, Math.max(INT16_MIN, value));
}

/** Rounds to the nearest integer and clamps into the 16-bit range. */
export function saturate16(value: number): number {
  return clamp16(Math.round(value));
}

function requireRoom(name: string, out: Int16Array, needed: number): void {
  if (out.length < needed)
    throw new RangeError(`${name}: output holds ${out.length} samples, needs ${needed}`);
}

/** Averages interleaved stereo into mono. Returns the number of mono samples written. */
export function downmixStereo(stereo: Int16Array, outMono: Int16Array): number {
  const frames = stereo.length >> 1;
  requireRoom("downmixStereo", outMono, frames);
  for (let i = 0, j = 0; i < frames; i++, j += 2) outMono[i] = (stereo[j]! + stereo[j + 1]!) >> 1;
  return frames;
}

/** Copies mono into both channels of interleaved stereo. Returns the number of samples written. */
export function upmixMono(mono: Int16Array, outStereo: Int16Array): number {
  const frames = mono.length;
  requireRoom("upmixMono", outStereo, 2 * frames);
  for (let i = 0, j = 0; i < frames; i++, j += 2) {
    const sample = mono[i]!;
    outStereo[j] = sample;
    outStereo[j + 1] = sample;
  }
  return 2 * frames;
}

/**
 * Sums the first `count` inputs into `out` (every input at least `out.length` long), clamping at
 * full scale instead of wrapping. With no inputs `out` becomes digital silence.
 */
export function mixSaturating(inputs: readonly Int16Array[], count: number, out: Int16Array): void {
  if (count > inputs.length) throw new RangeError(`mixSaturating: count ${count} > ${inputs.length} inputs`);
  const length = out.length;
  for (let k = 0; k < count; k++) {
    if (inputs[k]!.length < length) {
      throw new RangeError(`mixSaturating: input ${k} has ${inputs[k]!.length} samples, needs ${length}`);
    }
  }
  if (count === 0) {
    out.fill(0);
    return;
  }
  if (count === 1) {
    out.set(inputs[0]!.subarray(0, length));
    return;
  }
  for (let i = 0; i < length; i++) {
    let sum = 0;
    for (let k = 0; k < count; k++) sum += inputs[k]![i]!;
    out[i] = clamp16(sum);
  }
}

/** Scales samples in place (ducking), clamping at full scale. */
export function applyGain(pcm: Int16Array, gain: number): void {
  if (gain === 1) return;
  for (let i = 0; i < pcm.length; i++) pcm[i] = saturate16(pcm[i]! * gain);
}

/** Root mean square amplitude, in sample units (0 to 32768). */
export function rms(pcm: Int16Array): number {
  if (pcm.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < pcm.length; i++) sum += pcm[i]! * pcm[i]!;
  return Math.sqrt(sum / pcm.length);
}

/** About -60 dBFS: quieter than any speech, louder than codec noise on a silent line. */
const SILENCE_RMS_THRESHOLD = 33;

/** True when the frame's RMS amplitude is below `threshold` (sample units). */
export function isSilent(pcm: Int16Array, threshold = SILENCE_RMS_THRESHOLD): boolean {
  return rms(pcm) < threshold;
}
