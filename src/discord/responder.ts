import type { APIModalInteractionResponseCallbackData } from "discord.js";
import type { ReplyMessage, ResponseState } from "./context.ts";

/** The raw calls an interaction offers; the adapter maps them onto discord.js. */
export interface InteractionTransport {
  reply(message: ReplyMessage): Promise<void>;
  deferReply(ephemeral: boolean): Promise<void>;
  editReply(message: ReplyMessage): Promise<void>;
  followUp(message: ReplyMessage): Promise<void>;
  showModal(modal: APIModalInteractionResponseCallbackData): Promise<void>;
}

/**
 * Tracks what has been sent so callers need not: the state changes at call time (so a check made
 * right after sees it) and the calls reach Discord one after another, in call order, so a reply
 * racing a deferral becomes an edit of the deferred reply instead of a rejected second reply.
 */
export class InteractionResponder {
  readonly #transport: InteractionTransport;
  #state: ResponseState = "none";
  #queue: Promise<void> = Promise.resolve();

  constructor(transport: InteractionTransport) {
    this.#transport = transport;
  }

  get state(): ResponseState {
    return this.#state;
  }

  reply(message: ReplyMessage): Promise<void> {
    const previous = this.#state;
    this.#state = "replied";
    return this.#enqueue(() => {
      if (previous === "none") return this.#transport.reply(message);
      if (previous === "deferred") return this.#transport.editReply(message);
      return this.#transport.followUp(message);
    });
  }

  defer(options: { readonly ephemeral: boolean }): Promise<void> {
    if (this.#state !== "none") return this.#queue;
    this.#state = "deferred";
    return this.#enqueue(() => this.#transport.deferReply(options.ephemeral));
  }

  showModal(modal: APIModalInteractionResponseCallbackData): Promise<void> {
    if (this.#state !== "none")
      return Promise.reject(new Error("a modal must be the first answer to an interaction"));
    this.#state = "replied";
    return this.#enqueue(() => this.#transport.showModal(modal));
  }

  #enqueue(call: () => Promise<void>): Promise<void> {
    const result = this.#queue.then(call);
    this.#queue = result.catch(() => undefined);
    return result;
  }
}
