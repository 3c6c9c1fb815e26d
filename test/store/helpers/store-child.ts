/**
 * A second process using the store, for the durability and concurrency tests.
 *   crash <db>                      writes forever, printing "ack <i>" after each acknowledged write
 *   change <db> <guildId> <json>    prints "ready", applies one persona change, prints "done"
 */

import { createMemoryLogger } from "../../../src/log.ts";
import { openGuildStore } from "../../../src/store/guild-store.ts";
import { testDefaults, testGuildId } from "./defaults.ts";

const [mode, path, guildId, change] = process.argv.slice(2);
if (path === undefined) throw new Error("usage: store-child.ts crash|change <db> ...");
const store = openGuildStore({ path, defaults: testDefaults, logger: createMemoryLogger().logger });

if (mode === "crash") {
  for (let i = 0; ; i++) {
    store.setCaptions(testGuildId(i), { enabled: true, channelId: testGuildId(i) });
    store.addUsage(testGuildId(0), { inputTokens: 1 });
    // Writes to a pipe are synchronous on Linux: the parent sees this line only after the commit.
    process.stdout.write(`ack ${i}\n`);
  }
} else if (mode === "change" && guildId !== undefined && change !== undefined) {
  process.stdout.write("ready\n");
  const result = store.changePersona(guildId, JSON.parse(change));
  store.close();
  process.stdout.write(`done ${result.ok}\n`);
}
