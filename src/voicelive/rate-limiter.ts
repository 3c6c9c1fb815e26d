import { SlidingWindow } from "../util/sliding-window.ts";

/**
 * New-connection rate limiting. Voice Live counts new WebSocket connections per resource per
 * minute (S0: 30), so every guild's session to one endpoint draws from one shared budget: at most
 * `perMinute` connections in any 60 s. With shards in several processes the budget lives in the
 * sharding manager, and with PostgreSQL in the database (see `useConnectionBudgets`), so the
 * processes, and the hosts, together stay within it.
 */

/** Told how long a connection must wait for its slot, before the wait starts (only when it must wait). */
export type BudgetWaitListener = (waitMs: number) => void;

/** Where connection slots for one Voice Live resource come from. */
export interface ConnectionBudget {
  /** Waits for a connection slot; false (and the slot given back) when aborted first. */
  acquire(signal?: AbortSignal, onWait?: BudgetWaitListener): Promise<boolean>;
}

export interface LimiterClock {
  now(): number;
  /** Resolves after `ms`, or early (with false) when the signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<boolean>;
}

export const realClock: LimiterClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<boolean>((resolve) => {
      if (signal?.aborted) {
        resolve(false);
        return;
      }
      const onAbort = (): void => {
        clearTimeout(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve(true);
      }, ms);
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
};

/**
 * The window the budgets keep: a minute and a margin. The service counts a connection when its
 * handshake arrives, which can be a little after its slot (a busy process, a slow TLS handshake)
 * for one connection and promptly for the one a window later; the margin keeps every 60 s the
 * service sees within the limit anyway.
 */
export const BUDGET_WINDOW_MS = 60_500;

/**
 * The part every budget shares once it has reserved a slot `waitMs` away: tell the listener,
 * wait, and give the slot back (`refund`) if the wait is aborted.
 */
export async function waitForSlot(
  waitMs: number,
  signal: AbortSignal | undefined,
  refund: () => void,
  onWait: BudgetWaitListener | undefined,
  clock: LimiterClock = realClock,
): Promise<boolean> {
  if (signal?.aborted === true) {
    refund();
    return false;
  }
  if (waitMs <= 0) return true;
  onWait?.(waitMs);
  const completed = await clock.sleep(waitMs, signal);
  if (!completed) refund();
  return completed;
}

export class ConnectionRateLimiter implements ConnectionBudget {
  readonly perMinute: number;
  readonly #window: SlidingWindow;
  readonly #clock: LimiterClock;

  constructor(perMinute: number, clock: LimiterClock = realClock) {
    this.perMinute = perMinute;
    this.#clock = clock;
    this.#window = new SlidingWindow({
      limit: perMinute,
      windowMs: BUDGET_WINDOW_MS,
      now: () => clock.now(),
    });
  }

  acquire(signal?: AbortSignal, onWait?: BudgetWaitListener): Promise<boolean> {
    return waitForSlot(this.reserve(), signal, () => this.refund(), onWait, this.#clock);
  }

  /** Reserves a slot and returns the ms until it may be used (the manager answers shards with it). */
  reserve(): number {
    return this.#window.reserve();
  }

  refund(): void {
    this.#window.refund();
  }

  /** Ms the next caller would wait. */
  nextWaitMs(): number {
    return this.#window.nextWaitMs();
  }
}

/** One budget per Voice Live resource (endpoint origin), whatever path or casing a caller used. */
export function budgetKey(endpoint: string): string {
  return new URL(endpoint).origin;
}

export type BudgetFactory = (key: string, perMinute: number) => ConnectionBudget;

const sharedBudgets = new Map<string, ConnectionBudget>();
let budgetFactory: BudgetFactory = (_key, perMinute) => new ConnectionRateLimiter(perMinute);

/**
 * Where this process's budgets come from from now on (a shard process: its sharding manager).
 * Set once at start-up, before any session connects.
 */
export function useConnectionBudgets(factory: BudgetFactory): void {
  budgetFactory = factory;
  sharedBudgets.clear();
}

/** The process-wide budget for an endpoint; the first caller's rate sets it. */
export function sharedConnectionLimiter(endpoint: string, perMinute: number): ConnectionBudget {
  const key = budgetKey(endpoint);
  let budget = sharedBudgets.get(key);
  if (budget === undefined) {
    budget = budgetFactory(key, perMinute);
    sharedBudgets.set(key, budget);
  }
  return budget;
}
