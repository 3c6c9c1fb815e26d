import pg from "pg";
import type { Logger } from "../log.ts";
import { redactDatabaseUrl } from "../util/database-url.ts";

/**
 * The one pool a process keeps to PostgreSQL (the store and the shared connection budget use it).
 * pg's pool replaces a connection that dies on the next query, so a server restart or a network
 * cut costs the calls made while it lasts, never the process.
 */

/** How long a query waits for a connection before the caller is told the database is unavailable. */
const CONNECT_TIMEOUT_MS = 5_000;
const INT8_OID = 20;

export function createPostgresPool(url: string, logger: Logger): pg.Pool {
  // BIGINT columns hold milliseconds and token counts, far below 2^53: numbers, not strings.
  const types = new pg.TypeOverrides();
  types.setTypeParser(INT8_OID, Number);
  const pool = new pg.Pool({
    connectionString: url,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    max: 5,
    types,
    application_name: "voicelive-discord",
  });
  // Without a listener, an idle connection the server drops would crash the process.
  pool.on("error", (error) =>
    logger.warn(
      { err: error, database: redactDatabaseUrl(url) },
      "PostgreSQL connection lost; the next query opens a new one",
    ),
  );
  return pool;
}

/** A query's failure, logged with what was being done; the caller decides what the user hears. */
export async function query<Row extends object>(
  client: pg.Pool | pg.PoolClient,
  logger: Logger,
  what: string,
  text: string,
  values: readonly unknown[] = [],
): Promise<Row[]> {
  try {
    return (await client.query<Row>(text, [...values])).rows;
  } catch (error) {
    logger.warn({ err: error }, `PostgreSQL: could not ${what}`);
    throw error;
  }
}
