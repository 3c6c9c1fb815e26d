import { FRAME_SAMPLES_24K } from "../audio/constants.ts";
import type { OutputEncoder, OutputEncoderSink } from "../audio/output-encoder.ts";
import type { OpusQueuePlayer } from "../voice/opus-queue-player.ts";
import type { PlaybackItem } from "./playback-ledger.ts";

/**
 * The output side of a guild: Voice Live's 24 kHz mono deltas -> 20 ms frames -> (when the player
 * is about to need them) the encoder (48 kHz stereo Opus, possibly on a worker thread) -> the player.
 *
 * Deltas arrive faster than real time, so most of a response waits here as compact 24 kHz PCM
 * (960 bytes per 20 ms), and only `lookaheadFrames` frames are encoded or being encoded ahead of
 * the player. That keeps ducking immediate (the gain applies to the next frame encoded, at most
 * `lookaheadFrames` later), keeps memory small, and lets barge-in drop everything at once. Each
 * frame carries its item, so the player's "frame sent" reports count exactly what each assistant
 * item played.
 */

export interface OutputFeederOptions {
  readonly player: OpusQueuePlayer<PlaybackItem>;
  /** Makes the stream's encoder; its packets must come back through the sink given. */
  readonly encoder: (sink: OutputEncoderSink) => OutputEncoder;
  /** Frames encoded (or being encoded) ahead of the player; 3 (60 ms) also is the start threshold. */
  readonly lookaheadFrames?: number;
  /** Cap on buffered frames (5 minutes); beyond it a response's audio is dropped and counted. */
  readonly maxBufferedFrames?: number;
  /** Called for each frame the player takes, with the time its audio arrived from Voice Live. */
  readonly onFrameSent?: (item: PlaybackItem, audioReceivedAt: number) => void;
}

export class OutputFeeder {
  readonly #player: OpusQueuePlayer<PlaybackItem>;
  readonly #encoder: OutputEncoder;
  readonly #lookahead: number;
  readonly #maxBuffered: number;
  readonly #onFrameSent: ((item: PlaybackItem, audioReceivedAt: number) => void) | undefined;
  /** Ring of 24 kHz frames waiting to be encoded, with their item and arrival time. */
  #frames: Int16Array[] = [];
  #items: (PlaybackItem | undefined)[] = [];
  #receivedAt = new Float64Array(0);
  #head = 0;
  #count = 0;
  /** Free 24 kHz frame buffers, reused once their frame has been handed to the encoder. */
  readonly #pool: Int16Array[] = [];
  #partial = new Int16Array(FRAME_SAMPLES_24K);
  #partialLength = 0;
  #partialItem: PlaybackItem | undefined;
  /** Item and arrival time of each frame at the encoder, in order, until its packet comes back. */
  readonly #encodingItems: (PlaybackItem | undefined)[] = [];
  readonly #encodingReceivedAt: number[] = [];
  /** Arrival time of each frame sent into the player, in order, for the frame-sent callback. */
  #inPlayerReceivedAt: number[] = [];
  /** The last item's audio is complete: once everything is handed over, the burst may end. */
  #ended = false;
  #gain = 1;
  #droppedFrames = 0;
  readonly #unsubscribe: () => void;

  constructor(options: OutputFeederOptions) {
    this.#player = options.player;
    this.#lookahead = options.lookaheadFrames ?? 3;
    this.#maxBuffered = options.maxBufferedFrames ?? 15_000;
    this.#onFrameSent = options.onFrameSent;
    this.#encoder = options.encoder({
      packet: (packet) => this.#encoded(packet),
      lost: (frames) => this.#lost(frames),
    });
    this.#unsubscribe = this.#player.onFrameSent(this.#frameSent);
  }

  /** Frames buffered here, being encoded, or queued in the player: the bot still has something to say. */
  get pendingFrames(): number {
    return (
      this.#count + this.#encodingItems.length + this.#player.queuedFrames + (this.#partialLength > 0 ? 1 : 0)
    );
  }

  get speaking(): boolean {
    return this.pendingFrames > 0 || this.#player.playing;
  }

  /** Frames refused because the buffer was full, or lost by the encoder. */
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
    this.#ended = false;
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
    this.#ended = true;
    this.#topUp();
  }

  /** Drops everything not yet played; at most one frame already prepared may still leave. */
  flush(): number {
    const dropped =
      this.#player.flush() + this.#count + this.#encodingItems.length + (this.#partialLength > 0 ? 1 : 0);
    while (this.#count > 0) this.#release();
    this.#partialLength = 0;
    this.#partialItem = undefined;
    this.#encodingItems.length = 0;
    this.#encodingReceivedAt.length = 0;
    this.#inPlayerReceivedAt.length = 0;
    this.#ended = false;
    this.#encoder.reset();
    return dropped;
  }

  destroy(): void {
    this.flush();
    this.#unsubscribe();
    this.#encoder.destroy();
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

  /** Hands frames to the encoder until the player holds (or will soon hold) the lookahead. */
  #topUp(): void {
    while (this.#count > 0 && this.#player.queuedFrames + this.#encodingItems.length < this.#lookahead) {
      this.#encodingItems.push(this.#items[this.#head]);
      this.#encodingReceivedAt.push(this.#receivedAt[this.#head]!);
      const pcm24k = this.#frames[this.#head]!;
      this.#release();
      // May call #encoded() at once (inline encoder); the frame buffer is not reused before it returns.
      this.#encoder.encode(pcm24k, this.#gain);
    }
    this.#completeIfDrained();
  }

  readonly #encoded = (packet: Buffer): void => {
    const item = this.#encodingItems.shift();
    const receivedAt = this.#encodingReceivedAt.shift() ?? performance.now();
    if (!this.#player.enqueue(packet, item)) {
      this.#droppedFrames++;
    } else {
      this.#inPlayerReceivedAt.push(receivedAt);
    }
    this.#completeIfDrained();
  };

  #lost(frames: number): void {
    const count = Math.min(frames, this.#encodingItems.length);
    this.#encodingItems.splice(0, count);
    this.#encodingReceivedAt.splice(0, count);
    this.#droppedFrames += count;
    this.#topUp();
  }

  /** Everything of an ended item is in the player: let it play out and end the burst without waiting. */
  #completeIfDrained(): void {
    if (this.#ended && this.#count === 0 && this.#encodingItems.length === 0 && this.#partialLength === 0) {
      this.#player.markComplete();
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
