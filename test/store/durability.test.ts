import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createMemoryLogger } from "../../src/log.ts";
import type { GuildStore } from "../../src/store/guild-store.ts";
import { openStore } from "../../src/store/open-store.ts";
import { BACKENDS, type StoreLocation } from "./helpers/backends.ts";
import { testDefaults, testGuildId } from "./helpers/defaults.ts";

const CHILD = fileURLToPath(new URL("./helpers/store-child.ts", import.meta.url));
const GUILD = testGuildId(7);

let location: StoreLocation;
/** What the children are given: the file's path or the database's URL. */
let db: string;
const children: ChildProcess[] = [];

function startChild(...args: string[]): { child: ChildProcess; lines: AsyncIterator<string> } {
  const child = spawn(process.execPath, ["--disable-warning=ExperimentalWarning", CHILD, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  if (child.stdout === null) throw new Error("no stdout");
  return { child, lines: createInterface({ input: child.stdout })[Symbol.asyncIterator]() };
}

async function nextLine(lines: AsyncIterator<string>): Promise<string> {
  const next = await lines.next();
  if (next.done) throw new Error("the child ended early");
  return next.value;
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once("exit", () => resolve()));
}

async function openTestStore(): Promise<GuildStore> {
  const { store } = await openStore({
    ...location.options,
    defaults: testDefaults,
    logger: createMemoryLogger().logger,
  });
  return store;
}

afterEach(async () => {
  for (const child of children.splice(0)) {
    child.kill("SIGKILL");
    await exited(child);
  }
  await location.remove();
});

describe.each(BACKENDS)("$name", ({ create }) => {
  beforeEach(async () => {
    location = await create();
    db = location.options.databaseUrl ?? location.options.path;
    // Create and migrate once, so the children start from the same schema.
    await (await openTestStore()).close();
  });

  describe("durability", () => {
    it("keeps every acknowledged write when the process is killed mid-stream", async () => {
      const { child, lines } = startChild("crash", db);
      let acknowledged = -1;
      while (acknowledged < 150) {
        const line = await nextLine(lines);
        acknowledged = Number(line.replace("ack ", ""));
      }
      child.kill("SIGKILL");
      await exited(child);
      expect(child.signalCode).toBe("SIGKILL");

      const store = await openTestStore();
      try {
        for (let i = 0; i <= acknowledged; i++) {
          expect((await store.settings(testGuildId(i))).captions, `write ${i}`).toEqual({
            enabled: true,
            channelId: testGuildId(i),
          });
        }
        // The write in flight at the kill may or may not have landed; every acknowledged one has.
        expect((await store.usageToday(testGuildId(0))).inputTokens).toBeGreaterThanOrEqual(acknowledged + 1);
      } finally {
        await store.close();
      }
    });
  });

  describe("concurrent writers", () => {
    it("two processes changing different persona fields keep both changes", async () => {
      // A third connection holds the write lock while both writers start their change, so both are
      // in their read-modify-write at once; a writer that read before taking the lock would write
      // back the stale persona and erase the other's field.
      const release = await location.holdLock(GUILD);
      const voice = startChild("change", db, GUILD, JSON.stringify({ voice: "coral" }));
      const temperature = startChild("change", db, GUILD, JSON.stringify({ temperature: 1.1 }));
      try {
        expect(await nextLine(voice.lines)).toBe("ready");
        expect(await nextLine(temperature.lines)).toBe("ready");
        await new Promise((resolve) => setTimeout(resolve, 300));
      } finally {
        await release();
      }
      expect(await nextLine(voice.lines)).toBe("done true");
      expect(await nextLine(temperature.lines)).toBe("done true");

      const store = await openTestStore();
      try {
        const persona = (await store.settings(GUILD)).persona;
        expect(persona.voice).toBe("coral");
        expect(persona.temperature).toBe(1.1);
      } finally {
        await store.close();
      }
    });
  });
});
