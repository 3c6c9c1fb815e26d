import { log } from "../log.ts";
import { isPostgresUrl } from "../util/database-url.ts";
import type { BudgetFactory } from "../voicelive/rate-limiter.ts";
import type { GuildStore, GuildStoreSettings } from "./guild-store.ts";
import { postgresBudgets } from "./postgres-budget.ts";
import { openPostgresStore } from "./postgres-store.ts";
import { openSqliteStore } from "./sqlite-store.ts";

export interface OpenStoreOptions extends GuildStoreSettings {
  /** DATABASE_URL: a postgres:// or postgresql:// URL selects PostgreSQL. */
  readonly databaseUrl?: string | undefined;
  /** DATABASE_PATH: the SQLite file otherwise. */
  readonly path: string;
}

export interface OpenedStore {
  readonly store: GuildStore;
  /** Set with PostgreSQL: Voice Live connection budgets every host shares through the database. */
  readonly connectionBudgets: BudgetFactory | undefined;
}

/** PostgreSQL when DATABASE_URL names it, the SQLite file otherwise. Throws StoreOpenError. */
export async function openStore(options: OpenStoreOptions): Promise<OpenedStore> {
  const { databaseUrl, ...settings } = options;
  if (databaseUrl !== undefined && isPostgresUrl(databaseUrl)) {
    const { store, pool } = await openPostgresStore({ ...settings, url: databaseUrl });
    return { store, connectionBudgets: postgresBudgets(pool, options.logger ?? log) };
  }
  return { store: await openSqliteStore(settings), connectionBudgets: undefined };
}
