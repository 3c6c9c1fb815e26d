/** Discord voice: Opus at 48 kHz, stereo, one packet every 20 ms. */
export const DISCORD_SAMPLE_RATE = 48_000;
export const DISCORD_CHANNELS = 2;
export const FRAME_MS = 20;
/** Samples per channel in one 20 ms frame at 48 kHz. */
export const FRAME_SAMPLES_48K = (DISCORD_SAMPLE_RATE * FRAME_MS) / 1000;
/** Interleaved samples (both channels) in one 20 ms stereo frame at 48 kHz. */
export const FRAME_SAMPLES_48K_STEREO = FRAME_SAMPLES_48K * DISCORD_CHANNELS;

/** Voice Live's `pcm16` output is 24 kHz mono. */
export const VOICE_LIVE_OUTPUT_RATE = 24_000;
/** Voice Live's `g711_ulaw` / `g711_alaw` formats are 8 kHz mono. */
export const G711_SAMPLE_RATE = 8_000;

export const FRAME_SAMPLES_24K = (24_000 * FRAME_MS) / 1000;
