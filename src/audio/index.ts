export * from "./constants.ts";
export { designKaiserLowpass, type LowpassSpec } from "./fir.ts";
export { FrameClock, type FrameClockOptions, type FrameClockScheduler } from "./frame-clock.ts";
export { decodeALaw, decodeMuLaw, encodeALaw, encodeMuLaw } from "./g711.ts";
export { type OpusEncoderOptions, OpusFrameDecoder, OpusFrameEncoder } from "./opus.ts";
export {
  applyGain,
  downmixStereo,
  floatToPcm16,
  isSilent,
  mixSaturating,
  pcm16ToFloat,
  peakAbs,
  rms,
  SILENCE_RMS_THRESHOLD,
  saturate16,
  upmixMono,
} from "./pcm.ts";
export { convertSampleRate } from "./rate-convert.ts";
export { createInputResampler, type StreamResampler } from "./resample.ts";
export { readWav, type WavAudio, WavError, type WavProblem, writeWav } from "./wav.ts";
