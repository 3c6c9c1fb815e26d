import type { Shard } from "discord.js";
import type { Logger } from "../log.ts";
import { type ConnectionBudget, ConnectionRateLimiter, waitForSlot } from "../voicelive/rate-limiter.ts";

/*
 * One Voice Live connection budget for all the shards of a host: every shard process asks its
 * sharding manager for a slot over the IPC channel discord.js already keeps to each shard, and the
 * manager answers from one limiter per resource. A shard waits the time it was given, and gives
 * the slot back if its session stops waiting.
 */

const RESERVE = "voicelive-budget:reserve";
const RESERVED = "voicelive-budget:reserved";
const REFUND = "voicelive-budget:refund";
/** A manager that does not answer (it is going away): wait like a budget that is empty for a window. */
const ANSWER_TIMEOUT_MS = 60_000;

interface ReserveMessage {
  readonly kind: typeof RESERVE;
  readonly id: number;
  readonly key: string;
  readonly perMinute: number;
}

interface ReservedMessage {
  readonly kind: typeof RESERVED;
  readonly id: number;
  readonly waitMs: number;
}

interface RefundMessage {
  readonly kind: typeof REFUND;
  readonly key: string;
}

function isMessage<T extends { kind: string }>(value: unknown, kind: T["kind"]): value is T {
  return typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === kind;
}

/** The IPC channel of a forked process. */
export interface ParentChannel {
  send(message: unknown): boolean;
  on(event: "message", listener: (message: unknown) => void): unknown;
}

/** In a shard process: budgets that ask the sharding manager for every slot. */
export function managerBudgets(channel: ParentChannel): (key: string, perMinute: number) => ConnectionBudget {
  let nextId = 0;
  const waiting = new Map<number, (waitMs: number) => void>();
  channel.on("message", (message) => {
    if (!isMessage<ReservedMessage>(message, RESERVED)) return;
    waiting.get(message.id)?.(message.waitMs);
    waiting.delete(message.id);
  });
  return (key, perMinute) => ({
    async acquire(signal, onWait) {
      const id = ++nextId;
      const answered = new Promise<number>((resolve) => {
        waiting.set(id, resolve);
        setTimeout(() => {
          if (waiting.delete(id)) resolve(ANSWER_TIMEOUT_MS);
        }, ANSWER_TIMEOUT_MS).unref();
      });
      channel.send({ kind: RESERVE, id, key, perMinute } satisfies ReserveMessage);
      const refund = (): void => void channel.send({ kind: REFUND, key } satisfies RefundMessage);
      return waitForSlot(await answered, signal, refund, onWait);
    },
  });
}

/** In the sharding manager: answers every shard's requests from one limiter per resource. */
export class BudgetServer {
  readonly #limiters = new Map<string, ConnectionRateLimiter>();
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  serve(shard: Shard): void {
    shard.on("message", (message: unknown) => {
      if (isMessage<ReserveMessage>(message, RESERVE)) {
        const waitMs = this.#limiter(message.key, message.perMinute).reserve();
        if (waitMs > 0)
          this.#logger.info({ shard: shard.id, waitMs }, "Voice Live connection budget spent; shard waits");
        shard
          .send({ kind: RESERVED, id: message.id, waitMs } satisfies ReservedMessage)
          .catch((error: unknown) =>
            this.#logger.warn({ err: error, shard: shard.id }, "could not answer a shard's budget request"),
          );
      } else if (isMessage<RefundMessage>(message, REFUND)) {
        this.#limiters.get(message.key)?.refund();
      }
    });
  }

  #limiter(key: string, perMinute: number): ConnectionRateLimiter {
    let limiter = this.#limiters.get(key);
    if (limiter === undefined) {
      limiter = new ConnectionRateLimiter(perMinute);
      this.#limiters.set(key, limiter);
    }
    return limiter;
  }
}
