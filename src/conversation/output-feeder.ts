import { FRAME_SAMPLES_24K, FRAME_SAMPLES_48K_STEREO } from "../audio/constants.ts";
import type { OpusFrameEncoder } from "../audio/opus.ts";
import { applyGain, upmixMono } from "../audio/pcm.ts";
import { Upsampler24to48 } from "../audio/resample.ts";
import type { OpusQueuePlayer } from "../voice/opus-queue-player.ts";
import type { PlaybackItem } from "./playback-ledger.ts";

/**
 * The output side of a guild: Voice Live's 24 kHz mono deltas -> 20 ms frames -> (when the player
 * is about to need them) 48 kHz stereo -> Opus -> the player.
 *
 * Deltas arrive faster than real time, so most of a response waits here as compact 24 kHz PCM
 * (960 bytes per 20 ms), and only `lookaheadFrames` encoded frames sit in the player. That keeps
 * ducking immediate (the gain applies to the next frame encoded, at most `lookaheadFrames` later),
 * keeps memory small, and lets barge-in drop everything at once. Each frame carries its item, so
 * the player's "frame sent" reports count exactly what each assistant item played.
 */

export interface OutputFeederOptions {
  readonly player: OpusQueuePlayer<PlaybackItem>;
  readonly encoder: OpusFrameEncoder;
  /** Encoded frames kept in the player; 3 (60 ms) also is the start threshold. */
  readonly lookaheadFrames?: number;
  /** Cap on buffered frames (5 minutes); beyond it a response's audio is dropped and counted. */
  readonly maxBufferedFrames?: number;
  /** Called for each frame the player takes, with the time its audio arrived from Voice Live. */
  readonly onFrameSent?: (item: PlaybackItem, audioReceivedAt: number) => void;
}

export class OutputFeeder {
  readonly #player: OpusQueuePlayer<PlaybackItem>;
  readonly #encoder: OpusFrameEncoder;
  readonly #lookahead: number;
  readonly #maxBuffered: number;
  readonly #onFrameSent: ((item: PlaybackItem, audioReceivedAt: number) => void) | undefined;
  readonly #upsampler = new Upsampler24to48();
  readonly #stereo = new Int16Array(FRAME_SAMPLES_48K_STEREO);
  /** Ring of 24 kHz frames waiting to be encoded, with their item and arrival time. */
  #frames: Int16Array[] = [];
  #items: (PlaybackItem | undefined)[] = [];
  #receivedAt = new Float64Array(0);
  #head = 0;
  #count = 0;
  /** Free 24 kHz frame buffers, reused once their frame has been encoded. */
  readonly #pool: Int16Array[] = [];
  #partial = new Int16Array(FRAME_SAMPLES_24K);
  #partialLength = 0;
  #partialItem: PlaybackItem | undefined;
  /** Arrival time of each frame sent into the player, in order, for the frame-sent callback. */
  #inPlayerReceivedAt: number[] = [];
  #gain = 1;
  #droppedFrames = 0;
  readonly #unsubscribe: () => void;

  constructor(options: OutputFeederOptions) {
    this.#player = options.player;
    this.#encoder = options.encoder;
    this.#lookahead = options.lookaheadFrames ?? 3;
    this.#maxBuffered = options.maxBufferedFrames ?? 15_000;
    this.#onFrameSent = options.onFrameSent;
    this.#unsubscribe = this.#player.onFrameSent(this.#frameSent);
  }

  /** Frames buffered here or queued in the player: the bot still has something to say. */
  get pendingFrames(): number {
    return this.#count + this.#player.queuedFrames + (this.#partialLength > 0 ? 1 : 0);
  }

  get speaking(): boolean {
    return this.pendingFrames > 0 || this.#player.playing;
  }

  /** Frames refused because the buffer was full. */
  get droppedFrames(): number {
    return this.#droppedFrames;
  }

  /** Volume for frames not yet encoded (1 = unchanged); ducking sets it below 1. */
  setGain(gain: number): void {
    this.#gain = gain;
  }

  /** Adds audio of an item; complete 20 ms frames are queued, the remainder waits for more. */
  push(item: PlaybackItem, pcm24k: Int16Array, receivedAt: number): void {
    if (this.#partialItem !== item && this.#partialLength > 0) this.#commitPartial();
    this.#partialItem = item;
    item.receivedSamples += pcm24k.length;
    const partial = this.#partial;
    for (let i = 0; i < pcm24k.length; i++) {
      partial[this.#partialLength++] = pcm24k[i]!;
      if (this.#partialLength === FRAME_SAMPLES_24K) this.#commitFrame(receivedAt);
    }
    this.#topUp();
  }

  /** The item's audio is complete: its last partial frame is padded and everything plays out. */
  endItem(item: PlaybackItem, receivedAt: number): void {
    if (this.#partialItem === item && this.#partialLength > 0) this.#commitPartial(receivedAt);
    this.#topUp();
    if (this.#count === 0) this.#player.markComplete();
  }

  /** Drops everything not yet played; at most one frame already prepared may still leave. */
  flush(): number {
    let dropped = this.#player.flush() + this.#count + (this.#partialLength > 0 ? 1 : 0);
    while (this.#count > 0) this.#release();
    this.#partialLength = 0;
    this.#partialItem = undefined;
    this.#inPlayerReceivedAt.length = 0;
    this.#upsampler.reset();
    dropped = Math.max(0, dropped);
    return dropped;
  }

  destroy(): void {
    this.flush();
    this.#unsubscribe();
  }

  #commitPartial(receivedAt?: number): void {
    this.#partial.fill(0, this.#partialLength);
    this.#partialLength = FRAME_SAMPLES_24K;
    this.#commitFrame(receivedAt ?? performance.now());
  }

  #commitFrame(receivedAt: number): void {
    const item = this.#partialItem;
    this.#partialLength = 0;
    if (this.#count >= this.#maxBuffered) {
      this.#droppedFrames++;
      return;
    }
    if (this.#count === this.#frames.length) this.#grow();
    const slot = (this.#head + this.#count) % this.#frames.length;
    const buffer = this.#pool.pop() ?? new Int16Array(FRAME_SAMPLES_24K);
    buffer.set(this.#partial);
    this.#frames[slot] = buffer;
    this.#items[slot] = item;
    this.#receivedAt[slot] = receivedAt;
    this.#count++;
  }

  #grow(): void {
    const size = Math.max(16, this.#frames.length * 2);
    const frames = new Array<Int16Array>(size);
    const items = new Array<PlaybackItem | undefined>(size).fill(undefined);
    const receivedAt = new Float64Array(size);
    for (let i = 0; i < this.#count; i++) {
      const from = (this.#head + i) % this.#frames.length;
      frames[i] = this.#frames[from]!;
      items[i] = this.#items[from];
      receivedAt[i] = this.#receivedAt[from]!;
    }
    this.#frames = frames;
    this.#items = items;
    this.#receivedAt = receivedAt;
    this.#head = 0;
  }

  /** Removes the head frame, returning its buffer to the pool. */
  #release(): void {
    this.#pool.push(this.#frames[this.#head]!);
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#frames.length;
    this.#count--;
  }

  /** Encodes frames into the player until it holds the lookahead. */
  #topUp(): void {
    while (this.#count > 0 && this.#player.queuedFrames < this.#lookahead) {
      const pcm24k = this.#frames[this.#head]!;
      const item = this.#items[this.#head];
      const receivedAt = this.#receivedAt[this.#head]!;
      const pcm48k = this.#upsampler.process(pcm24k);
      upmixMono(pcm48k, this.#stereo);
      applyGain(this.#stereo, this.#gain);
      this.#release();
      if (!this.#player.enqueue(this.#encoder.encode(this.#stereo), item)) {
        this.#droppedFrames++;
        continue;
      }
      this.#inPlayerReceivedAt.push(receivedAt);
    }
  }

  readonly #frameSent = (item: PlaybackItem | undefined): void => {
    const receivedAt = this.#inPlayerReceivedAt.shift() ?? performance.now();
    if (item !== undefined) {
      item.framesSent++;
      this.#onFrameSent?.(item, receivedAt);
    }
    this.#topUp();
  };
}
