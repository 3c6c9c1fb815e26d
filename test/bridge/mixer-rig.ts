import { JitterRing } from "../../src/audio/jitter-ring.ts";
import { InputMixer, type InputMixerOptions, type MixedFrame } from "../../src/bridge/input-mixer.ts";
import type { SpeakerSource } from "../../src/bridge/ports.ts";

/** An input mixer with speakers' rings fed by hand, as the voice channel's speakers would be. */
export class MixerRig {
  readonly #mixer: InputMixer;
  readonly #speakers: SpeakerSource[] = [];
  readonly #frameSamples: number;

  constructor(options: InputMixerOptions) {
    this.#mixer = new InputMixer(options);
    this.#frameSamples = options.frameSamples;
  }

  push(userId: string, pcm: Int16Array, receivedAt: number): void {
    let speaker = this.#speakers.find((s) => s.userId === userId);
    if (speaker === undefined) {
      speaker = { userId, ring: new JitterRing(3, this.#frameSamples) };
      this.#speakers.push(speaker);
    }
    speaker.ring.push(pcm, receivedAt);
  }

  tick(now: number): MixedFrame | undefined {
    return this.#mixer.tick(now, this.#speakers);
  }

  get dropped(): number {
    return this.#speakers.reduce((sum, speaker) => sum + speaker.ring.dropped, 0);
  }
}
