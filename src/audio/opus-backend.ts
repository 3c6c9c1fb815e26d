/** What src/audio/opus.ts needs of a libopus build: one codec object per stream. */

export type OpusBackendName = "native" | "opusscript";

/** PCM an encoder takes: Discord's 48 kHz stereo, or a mono voice at a lower rate (Opus packets carry no rate). */
export interface OpusPcmFormat {
  readonly sampleRate: 48_000 | 24_000;
  readonly channels: 1 | 2;
}

export const DISCORD_PCM: OpusPcmFormat = { sampleRate: 48_000, channels: 2 };

/** Samples (all channels) in one 20 ms frame of `format`. */
export function frameSamples(format: OpusPcmFormat): number {
  return (format.sampleRate / 50) * format.channels;
}

export interface OpusCodec {
  /** An opus_encoder_ctl status (negative: libopus error). */
  setBitrate(bitrate: number): number;
  /**
   * Decodes one packet into `frame` (interleaved stereo, one frame long). Returns the samples per
   * channel decoded, or a negative libopus error (or -1) when the packet did not fill the frame.
   */
  decode(packet: Uint8Array, frame: Int16Array): number;
  /** Encodes one 20 ms frame of the codec's format: the packet (the caller's) or a negative libopus error. */
  encode(pcm: Int16Array): Buffer | number;
  destroy(): void;
}

export interface OpusBackend {
  readonly name: OpusBackendName;
  /** For logs and /status. */
  readonly description: string;
  /** `owner` names the codec in errors; decoding is always to Discord's 48 kHz stereo. */
  create(owner: string, format: OpusPcmFormat): OpusCodec;
}

/**
 * AUDIO rather than VOIP: what we encode is the model's synthesized voice, already clean and
 * band-limited to 12 kHz, sent at Discord's 64 kbps. VOIP's speech pre-processing (high-pass,
 * SILK-leaning mode decisions) is built for noisy microphones and costs fidelity here; AUDIO keeps
 * the waveform closer (measured in the round-trip test). Decoding does not depend on it.
 * (@discordjs/opus creates its encoder with AUDIO too.)
 */
export const OPUS_APPLICATION_AUDIO = 2049;
export const OPUS_SET_BITRATE = 4002;

/** libopus decodes at most 120 ms per packet; its largest legal packet is 3 * 1276 bytes. */
export const MAX_DECODED_SAMPLES_PER_CHANNEL = 5760;
export const MAX_PACKET_BYTES = 3 * 1276;
