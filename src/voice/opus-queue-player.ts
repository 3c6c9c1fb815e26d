import { Readable } from "node:stream";
import {
  type AudioPlayer,
  createAudioPlayer,
  createAudioResource,
  NoSubscriberBehavior,
  type PlayerSubscription,
  StreamType,
  type VoiceConnection,
  VoiceConnectionStatus,
} from "@discordjs/voice";
import { type Logger, log } from "../log.ts";
import { holdAudioCycle } from "./audio-cycle.ts";
import { TaggedFrameQueue } from "./frame-queue.ts";

/** Discord's Opus silence frame: a burst ends with five, so the receiver's decoder fades out cleanly. */
const SILENCE_FRAME = Buffer.from([0xf8, 0xff, 0xfe]);
/** Five reach the wire; the last one pulled stays prepared until the next burst's first frame replaces it. */
const SILENCE_PADDING_FRAMES = 6;

/** Told for every frame the player took, in order, with the tag it was enqueued with. */
export type FrameSentListener<T> = (tag: T | undefined) => void;

export interface OpusQueuePlayerOptions {
  /** Frames that must be queued before a burst starts, unless it is marked complete. Default 3 (60 ms). */
  readonly minBufferFrames?: number;
  /** Queue cap; frames beyond it are refused and counted. Default 15 000 (5 minutes). */
  readonly maxQueuedFrames?: number;
  /** Empty pulls (20 ms of silence each) tolerated mid-burst before playback ends. Default 5. */
  readonly maxUnderrunFrames?: number;
  readonly logger?: Logger;
}

/**
 * The AudioPlayer's source: hands out a frame only when the player asks for one (its read() is
 * the pull), so nothing sits in a stream buffer where a flush could not reach it and the moment a
 * frame leaves the queue is exactly the moment the player prepares it for the connection.
 */
class PullSource extends Readable {
  readonly #pull: () => Buffer | null;

  constructor(pull: () => Buffer | null) {
    super({ objectMode: true });
    this.#pull = pull;
  }

  override _read(): void {}

  override read(size?: number): Buffer | null {
    if (size === 0 || this.destroyed) return null;
    return this.#pull();
  }
}

/**
 * Plays a queue of 20 ms Opus frames on a voice connection through @discordjs/voice's AudioPlayer
 * (StreamType.Opus: frames pass through untouched).
 *
 * Design (measured against the loopback server, see test/voice/player.test.ts): one long-lived
 * source per burst that pulls from our queue. The player reads one frame per 20 ms cycle and
 * dispatches it on the next cycle; an empty pull makes it send a silence frame. So:
 * - a frame counts as sent when the player pulls it; it reaches the UDP socket ≤ 20 ms later (it
 *   is lost only if the connection drops in between);
 * - uneven arrival is absorbed by the queue; a mid-burst underrun sends silence and re-buffers
 *   `minBufferFrames` before continuing (no frame/silence stutter); after `maxUnderrunFrames` empty
 *   pulls, or once a complete burst drains, the burst ends: five silence frames from our source,
 *   then the player stops (op 5 speaking 0);
 * - flush() empties the queue and ends the burst the same way instead of force-stopping the player
 *   at once: the one already prepared frame still leaves (and was counted), then only silence. A
 *   stop outside the audio cycle would leave that frame prepared on the connection, to be sent at
 *   the start of the next burst.
 * - the stop is issued from inside our own pull, never left to the library: the library would
 *   find the resource ended inside its cycle's `audioPlayers.filter(checkPlayable)` and splice the
 *   player out of the array being filtered, so the next guild's player would miss that 20 ms
 *   cycle and send 20 ms late for the rest of its burst (measured: bench "capacity", a late frame
 *   for another guild at every burst end). See audio-cycle.ts for the other half of the fix.
 */
export class OpusQueuePlayer<T = unknown> {
  readonly #player: AudioPlayer;
  readonly #queue: TaggedFrameQueue<T>;
  readonly #logger: Logger;
  readonly #minBufferFrames: number;
  readonly #maxUnderrunFrames: number;
  readonly #listeners: FrameSentListener<T>[] = [];
  readonly #releaseAudioCycle: () => void;
  #subscription: PlayerSubscription | undefined;
  #source: PullSource | undefined;
  /** Silence frames still to send before the ended burst's source stops (0 while playing). */
  #paddingLeft = 0;
  #complete = false;
  #buffering = true;
  #underrunFrames = 0;
  #sent = 0;
  #refused = 0;
  /**
   * A frame (not silence) was taken in this cycle and waits on the connection for the next
   * dispatch. Preparing another now would overwrite it: a frame counted as played but never sent.
   */
  #framePending = false;

  constructor(options: OpusQueuePlayerOptions = {}) {
    this.#minBufferFrames = positiveInteger("minBufferFrames", options.minBufferFrames ?? 3);
    this.#maxUnderrunFrames = positiveInteger("maxUnderrunFrames", options.maxUnderrunFrames ?? 5);
    this.#queue = new TaggedFrameQueue(positiveInteger("maxQueuedFrames", options.maxQueuedFrames ?? 15_000));
    this.#logger = (options.logger ?? log).child({ component: "opus-queue-player" });
    // Underruns are ours to handle (re-buffer, then end the source), so the player never gives up.
    this.#player = createAudioPlayer({
      behaviors: { noSubscriber: NoSubscriberBehavior.Pause, maxMissedFrames: Number.POSITIVE_INFINITY },
    });
    this.#player.on("error", (error) => this.#logger.warn({ err: error }, "audio player error"));
    this.#releaseAudioCycle = holdAudioCycle();
  }

  /** Plays on this connection (replacing any previous one). */
  attach(connection: VoiceConnection): void {
    this.#subscription?.unsubscribe();
    this.#subscription = connection.subscribe(this.#player);
    this.#framePending = false;
  }

  /**
   * Queues one frame; its tag comes back to the frame-sent listeners when the player takes it. The
   * buffer is kept, not copied: do not reuse it. Returns false when the queue is full.
   */
  enqueue(frame: Buffer, tag?: T): boolean {
    this.#complete = false;
    if (!this.#queue.push(frame, tag)) {
      if (this.#refused++ === 0) this.#logger.warn("playback queue full; refusing frames");
      return false;
    }
    this.#startIfBuffered();
    return true;
  }

  /** No more frames follow for now: play what is queued even if short, then end the burst. */
  markComplete(): void {
    this.#complete = true;
    if (this.#queue.length === 0) this.#endSource();
    else this.#startIfBuffered();
  }

  /**
   * Drops every queued frame and stops output: at most the one frame the player already prepared
   * still leaves. `unsent` is told each dropped frame's tag, oldest first. Returns the number dropped.
   */
  flush(unsent?: (tag: T | undefined) => void): number {
    const dropped = this.#queue.clear(unsent);
    this.#complete = false;
    this.#endSource();
    return dropped;
  }

  /** Returns the function that removes the listener. */
  onFrameSent(listener: FrameSentListener<T>): () => void {
    this.#listeners.push(listener);
    return () => {
      const at = this.#listeners.indexOf(listener);
      if (at >= 0) this.#listeners.splice(at, 1);
    };
  }

  get queuedFrames(): number {
    return this.#queue.length;
  }

  /** A burst is under way (including mid-burst underruns); false while idle, buffering or padding. */
  get playing(): boolean {
    return this.#source !== undefined && this.#paddingLeft === 0;
  }

  /** Frames the player has taken for the connection since creation. */
  get framesSent(): number {
    return this.#sent;
  }

  /** Frames refused because the queue was full. */
  get framesRefused(): number {
    return this.#refused;
  }

  /** Idempotent. */
  destroy(): void {
    this.flush();
    this.#listeners.length = 0;
    this.#stopSource();
    this.#subscription?.unsubscribe();
    this.#subscription = undefined;
    this.#releaseAudioCycle();
  }

  #startIfBuffered(): void {
    if (this.playing || this.#queue.length === 0) return;
    if (this.#queue.length < this.#minBufferFrames && !this.#complete) return;
    const source = new PullSource(this.#pull);
    const resource = createAudioResource(source, { inputType: StreamType.Opus });
    // The resource counts as started on its stream's first "readable"; a pull source has no buffer
    // to signal it, so say it here and play() goes straight to Playing.
    source.emit("readable");
    // Replacing a source that is still padding: the library destroys the old one itself.
    this.#source = source;
    this.#paddingLeft = 0;
    this.#buffering = false;
    this.#underrunFrames = 0;
    this.#player.play(resource);
    // The library would pull the first frame at its next cycle and send it one cycle later (it
    // prepares a cycle ahead); prepared on the connection now, it leaves at the next cycle: 20 ms
    // off the start of every answer. It also replaces any silence frame the last burst left there;
    // a frame of the last burst (flushed just after the player took it) leaves first instead.
    const connection = this.#subscription?.connection;
    if (!this.#framePending && connection?.state.status === VoiceConnectionStatus.Ready) {
      connection.prepareAudioPacket(this.#takeFrame());
    }
  }

  /** Runs inside the library's audio cycle: a throwing listener must not stop every guild's playback. */
  #notifySent(tag: T | undefined): void {
    for (let i = 0; i < this.#listeners.length; i++) {
      try {
        this.#listeners[i]!(tag);
      } catch (error) {
        this.#logger.error({ err: error }, "frame-sent listener threw");
      }
    }
  }

  /** Takes the next queued frame as sent (the queue must not be empty). */
  #takeFrame(): Buffer {
    const queue = this.#queue;
    const tag = queue.peekTag();
    const frame = queue.shift()!;
    this.#sent++;
    this.#framePending = true;
    this.#notifySent(tag);
    if (this.#complete && queue.length === 0) this.#endSource();
    return frame;
  }

  /** Ends the burst: the next pulls send the silence padding, then the source stops. */
  #endSource(): void {
    if (!this.playing) return;
    this.#paddingLeft = SILENCE_PADDING_FRAMES;
    this.#buffering = true;
    this.#underrunFrames = 0;
  }

  /** Stops the player and drops the source; from a pull, or when destroyed. */
  #stopSource(): void {
    const source = this.#source;
    this.#source = undefined;
    this.#paddingLeft = 0;
    this.#player.stop(true);
    source?.destroy();
  }

  /** Called by the AudioPlayer once per 20 ms cycle while a burst plays. */
  readonly #pull = (): Buffer | null => {
    // The library dispatches a player's prepared packet before it pulls the next one.
    this.#framePending = false;
    if (this.#paddingLeft > 0) {
      if (--this.#paddingLeft === 0) this.#stopSource();
      return SILENCE_FRAME;
    }
    const queue = this.#queue;
    if (this.#buffering && (queue.length >= this.#minBufferFrames || (this.#complete && queue.length > 0))) {
      this.#buffering = false;
    }
    if (!this.#buffering && queue.length > 0) {
      this.#underrunFrames = 0;
      return this.#takeFrame();
    }
    if (this.#complete) {
      this.#endSource();
      return null;
    }
    this.#buffering = true;
    if (++this.#underrunFrames >= this.#maxUnderrunFrames) this.#endSource();
    return null;
  };
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1)
    throw new RangeError(`${name} must be a whole number >= 1, got ${value}`);
  return value;
}
