import type { Schedule } from "./timers.ts";

export interface AutoLeaveOptions {
  readonly graceMs: number;
  /** People (not bots) in the channel of the guild's conversation; null when there is no conversation. */
  readonly humansInConversation: (guildId: string) => number | null;
  readonly leave: (guildId: string) => void;
  readonly schedule: Schedule;
}

/**
 * Leaves a voice channel that only bots remain in, after a grace period (someone reconnecting
 * should not end the conversation). `check` is called on every voice state change in a guild: it
 * starts the countdown when the last person leaves and cancels it when someone comes back.
 */
export class AutoLeave {
  readonly #options: AutoLeaveOptions;
  readonly #pending = new Map<string, () => void>();

  constructor(options: AutoLeaveOptions) {
    this.#options = options;
  }

  check(guildId: string): void {
    const humans = this.#options.humansInConversation(guildId);
    if (humans !== 0) {
      this.#cancel(guildId);
      return;
    }
    if (this.#pending.has(guildId)) return;
    const cancel = this.#options.schedule(() => {
      this.#pending.delete(guildId);
      // Someone may have come back without a voice state event reaching us yet.
      if (this.#options.humansInConversation(guildId) === 0) this.#options.leave(guildId);
    }, this.#options.graceMs);
    this.#pending.set(guildId, cancel);
  }

  isCounting(guildId: string): boolean {
    return this.#pending.has(guildId);
  }

  /** Cancels every countdown (shutdown). */
  stop(): void {
    for (const guildId of [...this.#pending.keys()]) this.#cancel(guildId);
  }

  #cancel(guildId: string): void {
    this.#pending.get(guildId)?.();
    this.#pending.delete(guildId);
  }
}
