import { FRAME_MS, VOICE_LIVE_OUTPUT_RATE } from "../audio/constants.ts";

/**
 * What the channel actually heard of each assistant audio item: milliseconds received from Voice
 * Live and frames that reached the Discord connection. The truncate on barge-in carries
 * `playedMs`, so the model's memory of the conversation matches what people heard.
 */

export interface PlaybackItem {
  readonly responseId: string;
  readonly itemId: string;
  /** Audio received for this item, in 24 kHz samples (exact; converted to ms on demand). */
  receivedSamples: number;
  framesSent: number;
  /** When the first frame of the item reached the channel (performance.now()), or undefined. */
  firstSentAt: number | undefined;
}

const MAX_ITEMS = 64;

export class PlaybackLedger {
  readonly #items = new Map<string, PlaybackItem>();
  readonly #cancelledResponses = new Set<string>();

  item(responseId: string, itemId: string): PlaybackItem {
    let item = this.#items.get(itemId);
    if (item === undefined) {
      item = { responseId, itemId, receivedSamples: 0, framesSent: 0, firstSentAt: undefined };
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

  /** Milliseconds of the item that reached the channel, never more than was received. */
  playedMs(itemId: string): number {
    const item = this.#items.get(itemId);
    if (item === undefined) return 0;
    return Math.min(item.framesSent * FRAME_MS, receivedMs(item));
  }

  cancelResponse(responseId: string): void {
    this.#cancelledResponses.add(responseId);
    if (this.#cancelledResponses.size > MAX_ITEMS) {
      const oldest = this.#cancelledResponses.values().next().value;
      if (oldest !== undefined) this.#cancelledResponses.delete(oldest);
    }
  }

  isCancelled(responseId: string): boolean {
    return this.#cancelledResponses.has(responseId);
  }
}

export function receivedMs(item: PlaybackItem): number {
  return Math.floor((item.receivedSamples * 1000) / VOICE_LIVE_OUTPUT_RATE);
}
