import { FRAME_SAMPLES_24K } from "../audio/constants.ts";
import type { OutputEncoder, OutputEncoderSink } from "../audio/output-encoder.ts";
import type { PlaybackItem } from "../bridge/ports.ts";
import type { OpusQueuePlayer } from "./opus-queue-player.ts";

/**
 * The output side of a guild: Voice Live's 24 kHz mono deltas -> 20 ms frames -> (when the player
 * is about to need them) the encoder (48 kHz stereo Opus, possibly on a worker thread) -> the player.
 *
 * Deltas arrive faster than real time, so most of a response waits here as compact 24 kHz PCM
 * (960 bytes per 20 ms), and only `lookaheadFrames` frames are encoded or being encoded ahead of
 * the player. That keeps ducking immediate (the gain applies to the next frame encoded, at most
 * `lookaheadFrames` later), keeps memory small, and lets barge-in drop everything at once.
 *
 * Each frame travels as one ticket (its PCM, item and arrival time) from the queue here through
 * the encoder to the player, whose "frame sent" report hands the ticket back: so what each
 * assistant item played is counted exactly, and the tickets are reused.
 */

/** One 20 ms frame on its way to the channel. */
export interface FrameTicket {
  readonly pcm: Int16Array;
  item: PlaybackItem | undefined;
  /** When its audio arrived from Voice Live (performance.now()). */
  receivedAt: number;
}

export interface OutputFeederOptions {
  readonly player: OpusQueuePlayer<FrameTicket>;
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
  readonly #player: OpusQueuePlayer<FrameTicket>;
  readonly #encoder: OutputEncoder;
  readonly #lookahead: number;
  readonly #maxBuffered: number;
  readonly #onFrameSent: ((item: PlaybackItem, audioReceivedAt: number) => void) | undefined;
  /** Ring of frames waiting to be encoded, oldest at #head. */
  #waiting: (FrameTicket | undefined)[] = [];
  #head = 0;
  #count = 0;
  /** Frames at the encoder, in order, until their packets come back. */
  readonly #encoding: FrameTicket[] = [];
  /** Tickets back from the player (or never used), ready for the next frame. */
  readonly #pool: FrameTicket[] = [];
  /** Scratch list for pause(): the frames taken back from the player and the encoder, in order. */
  readonly #held: FrameTicket[] = [];
  readonly #partial = new Int16Array(FRAME_SAMPLES_24K);
  #partialLength = 0;
  #partialItem: PlaybackItem | undefined;
  /** The last item's audio is complete: once everything is handed over, the burst may end. */
  #ended = false;
  /** Held: frames keep arriving and wait here, none goes to the encoder until resume(). */
  #paused = false;
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
  get #pendingFrames(): number {
    return (
      this.#count + this.#encoding.length + this.#player.queuedFrames + (this.#partialLength > 0 ? 1 : 0)
    );
  }

  get speaking(): boolean {
    return this.#pendingFrames > 0 || this.#player.playing;
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

  /**
   * Stops output like flush(), but keeps every frame not yet played, in order, for resume(). Frames
   * already encoded are encoded again then: their packets would continue a stream that has ended.
   */
  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    const held = this.#held;
    held.length = 0;
    this.#player.flush(this.#holdUnsent);
    for (let i = 0; i < this.#encoding.length; i++) held.push(this.#encoding[i]!);
    this.#encoding.length = 0;
    this.#encoder.reset();
    for (let i = held.length - 1; i >= 0; i--) this.#putBack(held[i]!);
    held.length = 0;
  }

  /** Plays what pause() held, from the first frame not played. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#topUp();
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Drops everything not yet played; at most one frame already prepared may still leave. */
  flush(): number {
    const dropped =
      this.#player.flush() + this.#count + this.#encoding.length + (this.#partialLength > 0 ? 1 : 0);
    while (this.#count > 0) this.#recycle(this.#takeWaiting());
    while (this.#encoding.length > 0) this.#recycle(this.#encoding.shift()!);
    this.#partialLength = 0;
    this.#partialItem = undefined;
    this.#ended = false;
    this.#paused = false;
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
    this.#partialLength = 0;
    if (this.#count >= this.#maxBuffered) {
      this.#droppedFrames++;
      return;
    }
    if (this.#count === this.#waiting.length) this.#grow();
    const ticket = this.#pool.pop() ?? {
      pcm: new Int16Array(FRAME_SAMPLES_24K),
      item: undefined,
      receivedAt: 0,
    };
    ticket.pcm.set(this.#partial);
    ticket.item = this.#partialItem;
    ticket.receivedAt = receivedAt;
    this.#waiting[(this.#head + this.#count) % this.#waiting.length] = ticket;
    this.#count++;
  }

  #grow(): void {
    const size = Math.max(16, this.#waiting.length * 2);
    const waiting = new Array<FrameTicket | undefined>(size).fill(undefined);
    for (let i = 0; i < this.#count; i++) waiting[i] = this.#waiting[(this.#head + i) % this.#waiting.length];
    this.#waiting = waiting;
    this.#head = 0;
  }

  readonly #holdUnsent = (ticket: FrameTicket | undefined): void => {
    if (ticket !== undefined) this.#held.push(ticket);
  };

  /** Puts a frame back in front of the waiting ones. */
  #putBack(ticket: FrameTicket): void {
    if (this.#count === this.#waiting.length) this.#grow();
    this.#head = (this.#head - 1 + this.#waiting.length) % this.#waiting.length;
    this.#waiting[this.#head] = ticket;
    this.#count++;
  }

  #takeWaiting(): FrameTicket {
    const ticket = this.#waiting[this.#head]!;
    this.#waiting[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#waiting.length;
    this.#count--;
    return ticket;
  }

  #recycle(ticket: FrameTicket): void {
    ticket.item = undefined;
    this.#pool.push(ticket);
  }

  /** Hands frames to the encoder until the player holds (or will soon hold) the lookahead. */
  #topUp(): void {
    while (
      !this.#paused &&
      this.#count > 0 &&
      this.#player.queuedFrames + this.#encoding.length < this.#lookahead
    ) {
      const ticket = this.#takeWaiting();
      this.#encoding.push(ticket);
      // May call #encoded() at once (inline encoder); either way the PCM is consumed before it returns.
      this.#encoder.encode(ticket.pcm, this.#gain);
    }
    this.#completeIfDrained();
  }

  readonly #encoded = (packet: Buffer): void => {
    const ticket = this.#encoding.shift();
    if (ticket === undefined) return;
    if (!this.#player.enqueue(packet, ticket)) {
      this.#droppedFrames++;
      this.#recycle(ticket);
    }
    this.#completeIfDrained();
  };

  #lost(frames: number): void {
    const count = Math.min(frames, this.#encoding.length);
    for (let i = 0; i < count; i++) this.#recycle(this.#encoding.shift()!);
    this.#droppedFrames += count;
    this.#topUp();
  }

  /** Everything of an ended item is in the player: let it play out and end the burst without waiting. */
  #completeIfDrained(): void {
    if (
      !this.#paused &&
      this.#ended &&
      this.#count === 0 &&
      this.#encoding.length === 0 &&
      this.#partialLength === 0
    ) {
      this.#player.markComplete();
    }
  }

  readonly #frameSent = (ticket: FrameTicket | undefined): void => {
    if (ticket !== undefined) {
      const item = ticket.item;
      if (item !== undefined) {
        item.framesSent++;
        this.#onFrameSent?.(item, ticket.receivedAt);
      }
      this.#recycle(ticket);
    }
    this.#topUp();
  };
}
