import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createMemoryLogger } from "../../src/log.ts";
import { type GuildStore, type GuildStoreSettings, StoreOpenError } from "../../src/store/guild-store.ts";
import { MIGRATIONS } from "../../src/store/migrations.ts";
import { openStore } from "../../src/store/open-store.ts";
import { BACKENDS, type StoreLocation } from "./helpers/backends.ts";
import { testDefaults, testGuildId } from "./helpers/defaults.ts";

const GUILD = testGuildId(1);
const OTHER = testGuildId(2);
const ROLE = testGuildId(3);
const CHANNEL = testGuildId(4);

let location: StoreLocation;
const opened: GuildStore[] = [];

async function open(options: Partial<GuildStoreSettings> = {}): Promise<GuildStore> {
  const { store } = await openStore({
    ...location.options,
    defaults: testDefaults,
    logger: createMemoryLogger().logger,
    ...options,
  });
  opened.push(store);
  return store;
}

afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
  await location.remove();
});

describe.each(BACKENDS)("$name store", ({ create }) => {
  beforeEach(async () => {
    location = await create();
  });

  describe("guild settings", () => {
    it("gives the configured defaults to a guild without a row", async () => {
      const settings = await (await open()).settings(GUILD);
      expect(settings.persona).toEqual(testDefaults);
      expect(settings.captions).toEqual({ enabled: false, channelId: null });
      expect(settings.listen).toEqual({ mode: "everyone" });
    });

    it("saves a valid persona change and keeps it across a restart", async () => {
      const store = await open();
      const result = await store.changePersona(GUILD, { voice: "en-US-AvaNeural", temperature: 1.1 });
      expect(result.ok).toBe(true);
      await store.setCaptions(GUILD, { enabled: true, channelId: CHANNEL });
      await store.setListenPolicy(GUILD, { mode: "role", roleId: ROLE });
      await store.close();

      const reopened = await (await open()).settings(GUILD);
      expect(reopened.persona.voice).toBe("en-US-AvaNeural");
      expect(reopened.persona.temperature).toBe(1.1);
      expect(reopened.persona.instructions).toBe(testDefaults.instructions);
      expect(reopened.captions).toEqual({ enabled: true, channelId: CHANNEL });
      expect(reopened.listen).toEqual({ mode: "role", roleId: ROLE });
      expect((await (await open()).settings(OTHER)).persona).toEqual(testDefaults);
    });

    it("saves nothing when a change is invalid, and names the problem", async () => {
      const store = await open();
      await store.changePersona(GUILD, { temperature: 0.7 });
      const result = await store.changePersona(GUILD, { temperature: 0.9, voice: "not a voice" });
      expect(result).toEqual({ ok: false, problems: [expect.stringMatching(/^voice:/)] });
      expect((await store.settings(GUILD)).persona.temperature).toBe(0.7);
    });

    it("keeps the other fields when one is changed", async () => {
      const store = await open();
      await store.changePersona(GUILD, { voice: "coral" });
      await store.setCaptions(GUILD, { enabled: true, channelId: null });
      await store.changePersona(GUILD, { ducking: true });
      const settings = await store.settings(GUILD);
      expect(settings.persona.voice).toBe("coral");
      expect(settings.persona.ducking).toBe(true);
      expect(settings.captions.enabled).toBe(true);
    });

    it("merges changes made at once to the same guild, field by field", async () => {
      // Concurrent calls on one store: PostgreSQL runs them on several pooled connections at once.
      // (Two processes at once: durability.test.ts.)
      const store = await open();
      await Promise.all([
        store.changePersona(GUILD, { voice: "coral" }),
        store.changePersona(GUILD, { temperature: 1.1 }),
        store.setCaptions(GUILD, { enabled: true, channelId: CHANNEL }),
        store.changePersona(GUILD, { ducking: true }),
        store.setListenPolicy(GUILD, { mode: "initiator" }),
      ]);
      const settings = await (await open()).settings(GUILD);
      expect(settings.persona).toMatchObject({ voice: "coral", temperature: 1.1, ducking: true });
      expect(settings.captions).toEqual({ enabled: true, channelId: CHANNEL });
      expect(settings.listen).toEqual({ mode: "initiator" });
    });

    it("reset follows the configured defaults again, even after they change", async () => {
      const store = await open();
      await store.changePersona(GUILD, { instructions: "Talk like a pirate." });
      await store.setListenPolicy(GUILD, { mode: "initiator" });
      expect((await store.resetPersona(GUILD)).persona).toEqual(testDefaults);
      await store.close();
      const newDefaults = { ...testDefaults, instructions: "New default." };
      const settings = await (await open({ defaults: newDefaults })).settings(GUILD);
      expect(settings.persona.instructions).toBe("New default.");
      expect(settings.listen).toEqual({ mode: "initiator" });
    });

    it("falls back to the defaults, with a log line, for a row it cannot read", async () => {
      const store = await open();
      await store.changePersona(GUILD, { voice: "coral" });
      await store.setCaptions(GUILD, { enabled: true, channelId: CHANNEL });
      await store.close();
      await location.raw(
        "UPDATE guild_settings SET persona = ?, listen_mode = 'nobody' WHERE guild_id = ?",
        "{not json",
        GUILD,
      );

      const memory = createMemoryLogger();
      const reopened = await open({ logger: memory.logger });
      const settings = await reopened.settings(GUILD);
      expect(settings.persona).toEqual(testDefaults);
      expect(settings.listen).toEqual({ mode: "everyone" });
      expect(settings.captions).toEqual({ enabled: true, channelId: CHANNEL });
      expect(memory.lines.join("\n")).toMatch(/persona is not valid JSON/);
      expect(memory.lines.join("\n")).toMatch(/listen_mode/);
      // A later change heals the persona column.
      expect((await reopened.changePersona(GUILD, { temperature: 1 })).ok).toBe(true);
      expect((await reopened.settings(GUILD)).persona.temperature).toBe(1);
    });

    it.each([
      ['{"voice": 7}', /wrongly typed fields: voice/],
      ['{"turnDetection": {"threshold": "high"}}', /turnDetection.threshold/],
      ['{"temperature": 9}', /temperature/],
      ["[1,2]", /not a JSON object/],
    ])("rejects the stored persona %s", async (json, problem) => {
      await (await open()).changePersona(GUILD, { voice: "coral" });
      await location.raw("UPDATE guild_settings SET persona = ? WHERE guild_id = ?", json, GUILD);
      const memory = createMemoryLogger();
      expect((await (await open({ logger: memory.logger })).settings(GUILD)).persona).toEqual(testDefaults);
      expect(memory.lines.join("\n")).toMatch(problem);
    });

    it("takes defaults for persona fields an older row does not have", async () => {
      await (await open()).changePersona(GUILD, { voice: "coral" });
      await location.raw(
        "UPDATE guild_settings SET persona = ? WHERE guild_id = ?",
        '{"voice":"ash"}',
        GUILD,
      );
      expect((await (await open()).settings(GUILD)).persona).toEqual({ ...testDefaults, voice: "ash" });
    });
  });

  describe("usage", () => {
    it("accumulates per guild per UTC day", async () => {
      let now = Date.parse("2025-03-01T23:59:00Z");
      const store = await open({ now: () => now });
      await store.addUsage(GUILD, { secondsAppended: 1.5, inputTokens: 10, totalTokens: 10 });
      await store.addUsage(GUILD, {
        secondsAppended: 2,
        secondsPlayed: 3.25,
        outputTokens: 20,
        totalTokens: 20,
      });
      await store.addUsage(OTHER, { inputTokens: 99 });
      expect(await store.usageToday(GUILD)).toEqual({
        day: "2025-03-01",
        secondsAppended: 3.5,
        secondsPlayed: 3.25,
        inputTokens: 10,
        outputTokens: 20,
        totalTokens: 30,
      });
      now = Date.parse("2025-03-02T00:00:01Z");
      expect(await store.usageToday(GUILD)).toMatchObject({
        day: "2025-03-02",
        secondsAppended: 0,
        totalTokens: 0,
      });
      await store.addUsage(GUILD, { secondsPlayed: 1 });
      await store.close();
      expect(await (await open({ now: () => now })).usageToday(GUILD)).toMatchObject({
        secondsPlayed: 1,
        inputTokens: 0,
      });
    });

    it("skips invalid figures with a log line", async () => {
      const memory = createMemoryLogger();
      const store = await open({ logger: memory.logger });
      await store.addUsage(GUILD, { secondsAppended: Number.NaN, secondsPlayed: -1, inputTokens: 4 });
      expect(await store.usageToday(GUILD)).toMatchObject({
        secondsAppended: 0,
        secondsPlayed: 0,
        inputTokens: 4,
      });
      expect(memory.lines.filter((line) => line.includes("invalid usage figure"))).toHaveLength(2);
    });

    it("adds up usage written at once through two connections", async () => {
      const stores = [await open(), await open()];
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          stores[i % 2]!.addUsage(GUILD, { inputTokens: 1, secondsPlayed: 0.5 }),
        ),
      );
      expect(await stores[0]!.usageToday(GUILD)).toMatchObject({ inputTokens: 20, secondsPlayed: 10 });
    });
  });
});

describe("SQLite file", () => {
  beforeEach(async () => {
    location = await BACKENDS[0]!.create();
  });
  const path = (): string => location.options.path;

  it("uses WAL, a full sync and the latest schema", async () => {
    await open();
    const raw = new DatabaseSync(path());
    expect(raw.prepare("PRAGMA journal_mode").get()?.journal_mode).toBe("wal");
    expect(raw.prepare("PRAGMA user_version").get()?.user_version).toBe(MIGRATIONS.at(-1)?.version);
    raw.close();
  });

  it("migrates a database from an older schema version and keeps its rows", async () => {
    mkdirSync(dirname(path()), { recursive: true });
    const raw = new DatabaseSync(path());
    const first = MIGRATIONS[0];
    if (first === undefined) throw new Error("no migrations");
    raw.exec(first.sql.sqlite);
    raw.exec(`PRAGMA user_version = ${first.version}`);
    raw
      .prepare(
        "INSERT INTO guild_settings (guild_id, persona, listen_mode, updated_at) VALUES (?, ?, 'initiator', 0)",
      )
      .run(GUILD, JSON.stringify({ ...testDefaults, voice: "sage" }));
    raw.close();

    const store = await open();
    expect((await store.settings(GUILD)).persona.voice).toBe("sage");
    expect((await store.settings(GUILD)).listen).toEqual({ mode: "initiator" });
    await store.addUsage(GUILD, { inputTokens: 3 });
    expect((await store.usageToday(GUILD)).inputTokens).toBe(3);
  });

  it("refuses a database from a newer build with a readable message", async () => {
    await (await open()).close();
    const raw = new DatabaseSync(path());
    raw.exec("PRAGMA user_version = 99");
    raw.close();
    await expect(open()).rejects.toThrow(StoreOpenError);
    await expect(open()).rejects.toThrow(/schema version 99, newer than this build knows/);
  });

  it("names DATABASE_PATH when the file is not a database", async () => {
    mkdirSync(dirname(path()), { recursive: true });
    writeFileSync(path(), "this is a text file, not SQLite\n".repeat(200));
    await expect(open()).rejects.toThrow(
      /cannot open the database at .*bot\.sqlite \(DATABASE_PATH\): file is not a database/,
    );
  });
});
