import { isSilent, mixSaturating } from "../audio/pcm.ts";

/**
 * The input side of a guild between per-speaker resampling and `input_audio_buffer.append`:
 * a small jitter queue per speaker and one saturating mix per clock tick.
 *
 * Timing rule 1 of the design: Discord sends nothing while nobody talks, but server VAD needs audio
 * to hear a turn end. So every tick appends while speech is flowing and for `tailMs` after the last
 * speech frame (digital silence when nobody is queued), and nothing at all after that: an idle
 * channel costs no tokens. The tail counts audio time (ticks), not wall time, so a stalled event
 * loop cannot shorten it.
 */

interface SpeakerQueue {
  readonly speakerId: string;
  readonly frames: Int16Array[];
  readonly receivedAt: Float64Array;
  head: number;
  size: number;
  dropped: number;
}

export interface MixedFrame {
  /** The mixed PCM at the session's input rate; a view valid until the next tick. */
  readonly pcm: Int16Array;
  /** True when at least one queued frame was louder than silence (about -60 dBFS). */
  readonly speech: boolean;
  /** Speakers whose speech went into this frame (reused array). */
  readonly speakers: readonly string[];
}

export interface InputMixerOptions {
  readonly frameSamples: number;
  readonly tailMs: number;
  readonly maxQueuedFrames?: number;
  readonly frameMs?: number;
  /** Called for every queued frame mixed: how long our code held it, Discord packet in -> now. */
  readonly onFrameLatency?: (ms: number) => void;
}

export class InputMixer {
  readonly #frameSamples: number;
  readonly #maxQueued: number;
  readonly #tailTicks: number;
  readonly #onFrameLatency: ((ms: number) => void) | undefined;
  readonly #queues = new Map<string, SpeakerQueue>();
  /** The same queues as an array, so the tick walks them without allocating an iterator. */
  readonly #queueList: SpeakerQueue[] = [];
  readonly #mixInputs: Int16Array[] = [];
  readonly #out: Int16Array;
  readonly #speakers: string[] = [];
  readonly #result: { pcm: Int16Array; speech: boolean; speakers: readonly string[] };
  /** Ticks since the last speech frame; starts "long ago" so a new guild appends nothing. */
  #ticksSinceSpeech = Number.POSITIVE_INFINITY;
  #droppedFrames = 0;

  constructor(options: InputMixerOptions) {
    this.#frameSamples = options.frameSamples;
    this.#maxQueued = options.maxQueuedFrames ?? 3;
    this.#tailTicks = Math.ceil(options.tailMs / (options.frameMs ?? 20));
    this.#onFrameLatency = options.onFrameLatency;
    this.#out = new Int16Array(options.frameSamples);
    this.#result = { pcm: this.#out, speech: false, speakers: this.#speakers };
  }

  /** Frames dropped because a speaker's jitter queue was full (oldest first). */
  get droppedFrames(): number {
    return this.#droppedFrames;
  }

  /** Whether the guild is currently appending (speech flowing or within the silence tail). */
  get active(): boolean {
    return this.#ticksSinceSpeech <= this.#tailTicks || this.#hasQueuedFrames();
  }

  /** Copies one 20 ms mono frame of a speaker into its queue. */
  push(speakerId: string, pcm: Int16Array, receivedAt: number): void {
    let queue = this.#queues.get(speakerId);
    if (queue === undefined) {
      queue = {
        speakerId,
        frames: Array.from({ length: this.#maxQueued }, () => new Int16Array(this.#frameSamples)),
        receivedAt: new Float64Array(this.#maxQueued),
        head: 0,
        size: 0,
        dropped: 0,
      };
      this.#queues.set(speakerId, queue);
      this.#queueList.push(queue);
    }
    if (queue.size === this.#maxQueued) {
      queue.head = (queue.head + 1) % this.#maxQueued;
      queue.size--;
      queue.dropped++;
      this.#droppedFrames++;
    }
    const slot = (queue.head + queue.size) % this.#maxQueued;
    const frame = queue.frames[slot]!;
    const length = Math.min(pcm.length, frame.length);
    frame.set(length === pcm.length ? pcm : pcm.subarray(0, length));
    if (length < frame.length) frame.fill(0, length);
    queue.receivedAt[slot] = receivedAt;
    queue.size++;
  }

  removeSpeaker(speakerId: string): void {
    const queue = this.#queues.get(speakerId);
    if (queue === undefined) return;
    this.#queues.delete(speakerId);
    this.#queueList.splice(this.#queueList.indexOf(queue), 1);
  }

  /**
   * Takes at most one frame from each speaker and mixes them. Returns the frame to append, or
   * undefined when the guild should append nothing this tick.
   */
  tick(now: number): MixedFrame | undefined {
    this.#mixInputs.length = 0;
    this.#speakers.length = 0;
    let speech = false;
    for (let i = 0; i < this.#queueList.length; i++) {
      const queue = this.#queueList[i]!;
      if (queue.size === 0) continue;
      const frame = queue.frames[queue.head]!;
      this.#onFrameLatency?.(now - queue.receivedAt[queue.head]!);
      queue.head = (queue.head + 1) % this.#maxQueued;
      queue.size--;
      this.#mixInputs.push(frame);
      if (!isSilent(frame)) {
        speech = true;
        this.#speakers.push(queue.speakerId);
      }
    }
    if (speech) this.#ticksSinceSpeech = 0;
    else if (this.#ticksSinceSpeech !== Number.POSITIVE_INFINITY) this.#ticksSinceSpeech++;
    if (this.#ticksSinceSpeech > this.#tailTicks) {
      // Past the tail: silence-only frames (Discord's trailing silence packets) are consumed, not sent.
      this.#ticksSinceSpeech = Number.POSITIVE_INFINITY;
      return undefined;
    }
    mixSaturating(this.#mixInputs, this.#mixInputs.length, this.#out);
    this.#result.speech = speech;
    return this.#result;
  }

  #hasQueuedFrames(): boolean {
    for (const queue of this.#queueList) if (queue.size > 0) return true;
    return false;
  }
}
