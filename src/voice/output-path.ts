import type { OutputEncoder, OutputEncoderSink } from "../audio/output-encoder.ts";
import type { Interruption, OutputPort, PlaybackItem } from "../bridge/ports.ts";
import type { OpusQueuePlayer } from "./opus-queue-player.ts";
import { type FrameTicket, OutputFeeder } from "./output-feeder.ts";
import { PlaybackLedger, playedMs, receivedMs } from "./playback-ledger.ts";

/**
 * Everything the bot says on its way out, and the record of what was heard: the feeder that
 * paces frames into the player, and the ledger of each assistant item's received and played
 * audio. An interruption reads both in the same turn that it flushes, so the position it returns
 * is exactly where the channel's audio stopped.
 */

export interface OutputPathOptions {
  readonly player: OpusQueuePlayer<FrameTicket>;
  readonly encoder: (sink: OutputEncoderSink) => OutputEncoder;
  /** Called for each frame the player takes, with the time its audio arrived from Voice Live. */
  readonly onFrameSent: (item: PlaybackItem, audioReceivedAt: number) => void;
}

export class OutputPath implements OutputPort {
  readonly #feeder: OutputFeeder;
  readonly #ledger = new PlaybackLedger();
  /** The item whose audio was queued last: the one an interruption cuts. */
  #current: PlaybackItem | undefined;

  constructor(options: OutputPathOptions) {
    this.#feeder = new OutputFeeder({
      player: options.player,
      encoder: options.encoder,
      onFrameSent: options.onFrameSent,
    });
  }

  get speaking(): boolean {
    return this.#feeder.speaking;
  }

  get droppedFrames(): number {
    return this.#feeder.droppedFrames;
  }

  play(
    responseId: string,
    itemId: string,
    contentIndex: number,
    pcm24k: Int16Array,
    receivedAt: number,
  ): void {
    const item = this.#ledger.item(responseId, itemId, contentIndex);
    this.#current = item;
    this.#feeder.push(item, pcm24k, receivedAt);
  }

  endItem(itemId: string, receivedAt: number): void {
    const item = this.#ledger.find(itemId);
    if (item !== undefined) this.#feeder.endItem(item, receivedAt);
  }

  get paused(): boolean {
    return this.#feeder.paused;
  }

  pause(): void {
    this.#feeder.pause();
    this.#feeder.setGain(1);
  }

  resume(): void {
    this.#feeder.resume();
  }

  interrupt(): Interruption {
    const framesFlushed = this.#feeder.flush();
    this.#feeder.setGain(1);
    const item = this.#current;
    this.#current = undefined;
    if (item === undefined) return { position: undefined, framesFlushed };
    return {
      position: {
        responseId: item.responseId,
        itemId: item.itemId,
        contentIndex: item.contentIndex,
        playedMs: playedMs(item),
        receivedMs: receivedMs(item),
      },
      framesFlushed,
    };
  }

  setGain(gain: number): void {
    this.#feeder.setGain(gain);
  }

  destroy(): void {
    this.#feeder.destroy();
  }
}
