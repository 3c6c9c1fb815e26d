import { FRAME_MS, VOICE_LIVE_OUTPUT_RATE } from "../audio/constants.ts";
import type { PlaybackItem } from "../bridge/ports.ts";

/**
 * What the channel actually heard of each assistant audio item: milliseconds received from Voice
 * Live and frames that reached the Discord connection. A barge-in's truncate carries `playedMs`,
 * so the model's memory of the conversation matches what people heard.
 */

const MAX_ITEMS = 64;

export class PlaybackLedger {
  readonly #items = new Map<string, PlaybackItem>();

  item(responseId: string, itemId: string, contentIndex: number): PlaybackItem {
    let item = this.#items.get(itemId);
    if (item === undefined) {
      item = { responseId, itemId, contentIndex, receivedSamples: 0, framesSent: 0, firstSentAt: undefined };
      this.#items.set(itemId, item);
      if (this.#items.size > MAX_ITEMS) {
        const oldest = this.#items.keys().next().value;
        if (oldest !== undefined) this.#items.delete(oldest);
      }
    }
    return item;
  }

  find(itemId: string): PlaybackItem | undefined {
    return this.#items.get(itemId);
  }
}

/** Milliseconds of the item that reached the channel, never more than was received. */
export function playedMs(item: PlaybackItem): number {
  return Math.min(item.framesSent * FRAME_MS, receivedMs(item));
}

export function receivedMs(item: PlaybackItem): number {
  return Math.floor((item.receivedSamples * 1000) / VOICE_LIVE_OUTPUT_RATE);
}
