import type pg from "pg";
import type { Logger } from "../log.ts";
import { nextGrantAt } from "../util/sliding-window.ts";
import {
  BUDGET_WINDOW_MS,
  type BudgetFactory,
  type BudgetWaitListener,
  type ConnectionBudget,
  ConnectionRateLimiter,
  waitForSlot,
} from "../voicelive/rate-limiter.ts";
import { query } from "./postgres-pool.ts";

/**
 * One Voice Live connection budget per resource for every host using the database: the same
 * sliding window as the in-process limiter, its grants kept in `voicelive_connection_grants`.
 * A reservation takes a transaction-scoped advisory lock on the resource, so reservations from
 * all hosts serialize, and it reads the time from the database, so hosts whose clocks disagree
 * still agree on the window.
 */

export interface Reservation {
  readonly id: number;
  /** Ms until the connection may open (0: now). */
  readonly waitMs: number;
}

export class PostgresConnectionBudget implements ConnectionBudget {
  readonly #pool: pg.Pool;
  readonly #key: string;
  readonly #perMinute: number;
  readonly #logger: Logger;
  /** Used while the database cannot be reached: a join should not wait on an outage. */
  #fallback: ConnectionRateLimiter | undefined;

  constructor(pool: pg.Pool, key: string, perMinute: number, logger: Logger) {
    this.#pool = pool;
    this.#key = key;
    this.#perMinute = perMinute;
    this.#logger = logger.child({ component: "voicelive-budget", resource: key });
  }

  async acquire(signal?: AbortSignal, onWait?: BudgetWaitListener): Promise<boolean> {
    let reservation: Reservation;
    try {
      reservation = await this.reserve();
    } catch (error) {
      this.#logger.warn(
        { err: error },
        "shared Voice Live connection budget unavailable; this process counts its own connections until the database answers",
      );
      this.#fallback ??= new ConnectionRateLimiter(this.#perMinute);
      return this.#fallback.acquire(signal, onWait);
    }
    if (reservation.waitMs > 0)
      this.#logger.info(
        { waitMs: reservation.waitMs },
        "Voice Live connection budget spent; waiting for a slot",
      );
    return waitForSlot(reservation.waitMs, signal, () => void this.#refund(reservation.id), onWait);
  }

  /** Takes the next slot in the shared window. */
  async reserve(): Promise<Reservation> {
    const client = await this.#pool.connect();
    const run = <Row extends object>(what: string, text: string, values: readonly unknown[] = []) =>
      query<Row>(client, this.#logger, what, text, values);
    let failed = false;
    try {
      await run("start a budget reservation", "BEGIN");
      await run("lock the budget", "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [this.#key]);
      const [clock] = await run<{ now: number }>(
        "read the database clock",
        "SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now",
      );
      const now = clock?.now ?? Date.now();
      await run(
        "forget old grants",
        "DELETE FROM voicelive_connection_grants WHERE resource = $1 AND granted_at <= $2",
        [this.#key, now - BUDGET_WINDOW_MS],
      );
      const grants = await run<{ granted_at: number }>(
        "read the budget",
        "SELECT granted_at FROM voicelive_connection_grants WHERE resource = $1 ORDER BY granted_at",
        [this.#key],
      );
      const at = nextGrantAt(
        grants.map((grant) => grant.granted_at),
        this.#perMinute,
        BUDGET_WINDOW_MS,
        now,
      );
      const [grant] = await run<{ id: number }>(
        "take a slot",
        "INSERT INTO voicelive_connection_grants (resource, granted_at) VALUES ($1, $2) RETURNING id",
        [this.#key, at],
      );
      await run("commit the reservation", "COMMIT");
      return { id: grant?.id ?? 0, waitMs: at - now };
    } catch (error) {
      failed = true;
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      client.release(failed);
    }
  }

  /** Gives an unused slot back; later reservations were only ever stricter for it. */
  async #refund(id: number): Promise<void> {
    try {
      await query(
        this.#pool,
        this.#logger,
        "give a slot back",
        "DELETE FROM voicelive_connection_grants WHERE id = $1",
        [id],
      );
    } catch {
      // Logged by query(); the slot simply expires with its window.
    }
  }
}

/** Budgets for useConnectionBudgets, kept in the database the store uses. */
export function postgresBudgets(pool: pg.Pool, logger: Logger): BudgetFactory {
  return (key, perMinute) => new PostgresConnectionBudget(pool, key, perMinute, logger);
}
