import type pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createMemoryLogger } from "../../src/log.ts";
import { PostgresConnectionBudget } from "../../src/store/postgres-budget.ts";
import { openPostgresStore } from "../../src/store/postgres-store.ts";
import { createTestDatabase, type TestDatabase } from "../setup/databases.ts";
import { testDefaults } from "./helpers/defaults.ts";

/** The Voice Live connection budget several hosts share through PostgreSQL. */

const RESOURCE = "https://one.services.ai.azure.com";
const OTHER_RESOURCE = "https://two.services.ai.azure.com";
let database: TestDatabase;
const closers: (() => Promise<void>)[] = [];

/** A host: its own store and pool on the shared database. */
async function host(): Promise<pg.Pool> {
  const { store, pool } = await openPostgresStore({
    url: database.url,
    defaults: testDefaults,
    logger: createMemoryLogger().logger,
  });
  closers.push(() => store.close());
  return pool;
}

const budget = (pool: pg.Pool, key = RESOURCE, perMinute = 3) =>
  new PostgresConnectionBudget(pool, key, perMinute, createMemoryLogger().logger);

async function grantTimes(key = RESOURCE): Promise<number[]> {
  const { rows } = await database.query(
    "SELECT granted_at::float8 AS at FROM voicelive_connection_grants WHERE resource = $1 ORDER BY granted_at",
    [key],
  );
  return rows.map((row) => Number(row.at));
}

beforeEach(async () => {
  database = await createTestDatabase();
});

afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  await database.drop();
});

describe("PostgreSQL connection budget", () => {
  it("reservations from two hosts at once never put more than N in any minute", async () => {
    const [a, b] = [budget(await host()), budget(await host())];
    const reservations = await Promise.all(
      Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? a : b).reserve()),
    );
    const waits = reservations.map((reservation) => reservation.waitMs).sort((x, y) => x - y);
    expect(waits.slice(0, 3)).toEqual([0, 0, 0]);
    for (const wait of waits.slice(3)) expect(wait).toBeGreaterThan(59_000);
    const times = await grantTimes();
    expect(times).toHaveLength(8);
    for (let i = 3; i < times.length; i++) expect(times[i]! - times[i - 3]!).toBeGreaterThanOrEqual(60_000);
  });

  it("keeps one budget per Voice Live resource", async () => {
    const pool = await host();
    for (let i = 0; i < 3; i++) await budget(pool).reserve();
    expect((await budget(pool).reserve()).waitMs).toBeGreaterThan(59_000);
    expect((await budget(pool, OTHER_RESOURCE).reserve()).waitMs).toBe(0);
  });

  it("tells the waiter how long it waits, and an aborted wait gives its slot back", async () => {
    const pool = await host();
    const shared = budget(pool, RESOURCE, 1);
    expect(await shared.acquire()).toBe(true);
    const controller = new AbortController();
    const waits: number[] = [];
    const pending = shared.acquire(controller.signal, (waitMs) => {
      waits.push(waitMs);
      controller.abort();
    });
    expect(await pending).toBe(false);
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThan(59_000);
    await expect.poll(() => grantTimes().then((times) => times.length)).toBe(1);
  });

  it("falls back to counting in the process while the database is unreachable", async () => {
    const pool = await host();
    const memory = createMemoryLogger();
    const shared = new PostgresConnectionBudget(pool, RESOURCE, 2, memory.logger);
    await closers.pop()?.();
    expect(await shared.acquire()).toBe(true);
    expect(memory.lines.join("\n")).toMatch(/shared Voice Live connection budget unavailable/);
  });
});
