/**
 * A second process using the store, for the durability and concurrency tests. <db> is a SQLite
 * path or a postgres:// URL.
 *   crash <db>                      writes forever, printing "ack <i>" after each acknowledged write
 *   change <db> <guildId> <json>    prints "ready", applies one persona change, prints "done"
 */

import { createMemoryLogger } from "../../../src/log.ts";
import { openStore } from "../../../src/store/open-store.ts";
import { isPostgresUrl } from "../../../src/util/database-url.ts";
import { testDefaults, testGuildId } from "./defaults.ts";

const [mode, db, guildId, change] = process.argv.slice(2);
if (db === undefined) throw new Error("usage: store-child.ts crash|change <db> ...");
const { store } = await openStore({
  ...(isPostgresUrl(db) ? { databaseUrl: db, path: "" } : { path: db }),
  defaults: testDefaults,
  logger: createMemoryLogger().logger,
});

if (mode === "crash") {
  for (let i = 0; ; i++) {
    await store.setCaptions(testGuildId(i), { enabled: true, channelId: testGuildId(i) });
    await store.addUsage(testGuildId(0), { inputTokens: 1 });
    // Writes to a pipe are synchronous on Linux: the parent sees this line only after the commit.
    process.stdout.write(`ack ${i}\n`);
  }
} else if (mode === "change" && guildId !== undefined && change !== undefined) {
  process.stdout.write("ready\n");
  const result = await store.changePersona(guildId, JSON.parse(change));
  await store.close();
  process.stdout.write(`done ${result.ok}\n`);
}
