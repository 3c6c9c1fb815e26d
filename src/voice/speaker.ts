import type { AudioReceiveStream } from "@discordjs/voice";
import { FRAME_MS, FRAME_SAMPLES_48K } from "../audio/constants.ts";
import { JitterRing } from "../audio/jitter-ring.ts";
import { OpusFrameDecoder } from "../audio/opus.ts";
import { downmixStereo } from "../audio/pcm.ts";
import { createInputResampler, type StreamResampler } from "../audio/resample.ts";
import type { SpeakerSource } from "../bridge/ports.ts";

/** Frames a speaker may have queued for the mix (60 ms); more means the mix fell behind. */
const RING_FRAMES = 3;

/**
 * One person the bot listens to, from their Opus packets to 20 ms mono frames at the session's
 * input rate waiting for the mix: decoder, downmix buffer, anti-aliasing resampler and jitter ring
 * are created together when they start talking and freed together when they leave.
 */
export class Speaker implements SpeakerSource {
  readonly userId: string;
  readonly ring: JitterRing;
  readonly #decoder = new OpusFrameDecoder();
  readonly #mono = new Int16Array(FRAME_SAMPLES_48K);
  readonly #resampler: StreamResampler;
  stream: AudioReceiveStream | undefined;
  framesReceived = 0;
  streamErrors = 0;
  daveUndecrypted = 0;
  handlerErrors = 0;
  /** Packets that arrived while the allow decision was pending, with their arrival times. */
  readonly held: Buffer[] = [];
  readonly heldAt: number[] = [];
  /** One listener per speaker for every subscription: no per-frame closures. */
  readonly onData: (packet: Buffer) => void;

  constructor(
    userId: string,
    inputRate: 24_000 | 16_000,
    onData: (speaker: Speaker, packet: Buffer) => void,
  ) {
    this.userId = userId;
    this.#resampler = createInputResampler(inputRate);
    this.ring = new JitterRing(RING_FRAMES, (inputRate * FRAME_MS) / 1000);
    this.onData = (packet) => onData(this, packet);
  }

  /** Packets the decoder could not turn into a frame (each became 20 ms of silence). */
  get decodeErrors(): number {
    return this.#decoder.errors;
  }

  /** Decodes one packet into the ring; `receivedAt` is when it arrived (performance.now()). */
  accept(packet: Buffer, receivedAt: number): void {
    downmixStereo(this.#decoder.decode(packet), this.#mono);
    this.ring.push(this.#resampler.process(this.#mono), receivedAt);
  }

  destroy(): void {
    this.held.length = 0;
    this.heldAt.length = 0;
    this.#decoder.destroy();
  }
}
