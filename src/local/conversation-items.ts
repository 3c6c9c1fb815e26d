/**
 * The server-side conversation: items in order, addressable by id, with what the local server needs
 * to know about each item's audio. Bounded: past `maxItems` the oldest items are forgotten.
 */
import type { ConversationItem, MessageItem } from "../voicelive/protocol.ts";
import type { InvalidParam } from "./session-types.ts";

export interface StoredItem {
  readonly item: ConversationItem;
  /** Length of the item's audio: the user's speech, or the assistant audio actually delivered. */
  readonly audioMs: number;
}

export class ConversationItems {
  readonly #maxItems: number;
  readonly #order: string[] = [];
  readonly #items = new Map<string, StoredItem>();

  constructor(maxItems: number) {
    this.#maxItems = maxItems;
  }

  has(id: string): boolean {
    return this.#items.has(id);
  }

  get(id: string): StoredItem | undefined {
    return this.#items.get(id);
  }

  lastId(): string | null {
    return this.#order.at(-1) ?? null;
  }

  /**
   * Inserts after `previousItemId` (`"root"`: at the start; undefined: at the end) and returns the id
   * of the item now before it. The caller has checked that `previousItemId` exists.
   */
  insert(stored: StoredItem, previousItemId?: string | null): string | null {
    const id = stored.item.id!;
    let index = this.#order.length;
    if (previousItemId === "root") index = 0;
    else if (previousItemId !== undefined && previousItemId !== null)
      index = this.#order.indexOf(previousItemId) + 1;
    this.#order.splice(index, 0, id);
    this.#items.set(id, stored);
    if (this.#order.length > this.#maxItems) {
      const dropped = this.#order.splice(0, this.#order.length - this.#maxItems);
      for (const old of dropped) this.#items.delete(old);
    }
    return index > 0 ? (this.#order[index - 1] ?? null) : null;
  }

  replace(stored: StoredItem): void {
    const id = stored.item.id!;
    if (this.#items.has(id)) this.#items.set(id, stored);
  }

  delete(id: string): boolean {
    if (!this.#items.delete(id)) return false;
    this.#order.splice(this.#order.indexOf(id), 1);
    return true;
  }

  /**
   * Cuts an assistant audio item to `audioEndMs` and drops the transcript the listener did not hear
   * (in proportion, at a word boundary). Returns why it cannot, or undefined once done.
   */
  truncate(id: string, contentIndex: number, audioEndMs: number): InvalidParam | undefined {
    const stored = this.#items.get(id);
    const item = stored?.item;
    if (stored === undefined || item?.type !== "message" || item.role !== "assistant") {
      return { param: "item_id", message: "Only assistant message items can be truncated" };
    }
    const part = item.content[contentIndex];
    if (part?.type !== "audio") {
      return { param: "content_index", message: `Content part ${contentIndex} of the item is not audio` };
    }
    const available = Math.ceil(stored.audioMs);
    if (audioEndMs > available) {
      return {
        param: "audio_end_ms",
        message: `audio_end_ms (${audioEndMs}) is beyond the item's audio (${available} ms)`,
      };
    }
    const transcript = part.transcript ?? "";
    const keep = available === 0 ? 0 : Math.round((transcript.length * audioEndMs) / available);
    const heard = keep >= transcript.length ? transcript : transcript.slice(0, keep).replace(/\s*\S*$/, "");
    const content = item.content.map((p, i) =>
      i === contentIndex ? { type: "audio" as const, transcript: heard } : p,
    );
    this.#items.set(id, { item: { ...item, content }, audioMs: audioEndMs });
    return undefined;
  }

  /** The most recent user message, which a response answers. */
  /** Every item, in conversation order. */
  all(): ConversationItem[] {
    return this.#order.map((id) => this.#items.get(id)!.item);
  }

  last(): ConversationItem | undefined {
    const id = this.#order.at(-1);
    return id === undefined ? undefined : this.#items.get(id)?.item;
  }

  lastUserMessage(): MessageItem | undefined {
    for (let i = this.#order.length - 1; i >= 0; i--) {
      const item = this.#items.get(this.#order[i]!)!.item;
      if (item.type === "message" && item.role === "user") return item;
    }
    return undefined;
  }
}
