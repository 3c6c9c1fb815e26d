import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createMemoryLogger } from "../../src/log.ts";
import {
  type GuildStore,
  type GuildStoreOptions,
  openGuildStore,
  StoreOpenError,
} from "../../src/store/guild-store.ts";
import { MIGRATIONS } from "../../src/store/migrations.ts";
import { testDefaults, testGuildId } from "./helpers/defaults.ts";

const GUILD = testGuildId(1);
const OTHER = testGuildId(2);
const ROLE = testGuildId(3);
const CHANNEL = testGuildId(4);

let dir: string;
let path: string;
const opened: GuildStore[] = [];

function open(options: Partial<GuildStoreOptions> = {}): GuildStore {
  const store = openGuildStore({
    path,
    defaults: testDefaults,
    logger: createMemoryLogger().logger,
    ...options,
  });
  opened.push(store);
  return store;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "store-test-"));
  path = join(dir, "nested", "dir", "bot.sqlite");
});

afterEach(() => {
  for (const store of opened.splice(0)) store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("guild settings", () => {
  it("gives the configured defaults to a guild without a row", () => {
    const settings = open().settings(GUILD);
    expect(settings.persona).toEqual(testDefaults);
    expect(settings.captions).toEqual({ enabled: false, channelId: null });
    expect(settings.listen).toEqual({ mode: "everyone" });
  });

  it("saves a valid persona change and keeps it across a restart", () => {
    const store = open();
    const result = store.changePersona(GUILD, { voice: "en-US-AvaNeural", temperature: 1.1 });
    expect(result.ok).toBe(true);
    store.setCaptions(GUILD, { enabled: true, channelId: CHANNEL });
    store.setListenPolicy(GUILD, { mode: "role", roleId: ROLE });
    store.close();

    const reopened = open().settings(GUILD);
    expect(reopened.persona.voice).toBe("en-US-AvaNeural");
    expect(reopened.persona.temperature).toBe(1.1);
    expect(reopened.persona.instructions).toBe(testDefaults.instructions);
    expect(reopened.captions).toEqual({ enabled: true, channelId: CHANNEL });
    expect(reopened.listen).toEqual({ mode: "role", roleId: ROLE });
    expect(open().settings(OTHER).persona).toEqual(testDefaults);
  });

  it("saves nothing when a change is invalid, and names the problem", () => {
    const store = open();
    store.changePersona(GUILD, { temperature: 0.7 });
    const result = store.changePersona(GUILD, { temperature: 0.9, voice: "not a voice" });
    expect(result).toEqual({ ok: false, problems: [expect.stringMatching(/^voice:/)] });
    expect(store.settings(GUILD).persona.temperature).toBe(0.7);
  });

  it("keeps the other fields when one is changed", () => {
    const store = open();
    store.changePersona(GUILD, { voice: "coral" });
    store.setCaptions(GUILD, { enabled: true, channelId: null });
    store.changePersona(GUILD, { ducking: true });
    const settings = store.settings(GUILD);
    expect(settings.persona.voice).toBe("coral");
    expect(settings.persona.ducking).toBe(true);
    expect(settings.captions.enabled).toBe(true);
  });

  it("reset follows the configured defaults again, even after they change", () => {
    const store = open();
    store.changePersona(GUILD, { instructions: "Talk like a pirate." });
    store.setListenPolicy(GUILD, { mode: "initiator" });
    expect(store.resetPersona(GUILD).persona).toEqual(testDefaults);
    store.close();
    const newDefaults = { ...testDefaults, instructions: "New default." };
    const settings = open({ defaults: newDefaults }).settings(GUILD);
    expect(settings.persona.instructions).toBe("New default.");
    expect(settings.listen).toEqual({ mode: "initiator" });
  });

  it("falls back to the defaults, with a log line, for a row it cannot read", () => {
    const store = open();
    store.changePersona(GUILD, { voice: "coral" });
    store.setCaptions(GUILD, { enabled: true, channelId: CHANNEL });
    store.close();
    const raw = new DatabaseSync(path);
    raw
      .prepare("UPDATE guild_settings SET persona = ?, listen_mode = 'nobody' WHERE guild_id = ?")
      .run("{not json", GUILD);
    raw.close();

    const memory = createMemoryLogger();
    const reopened = open({ logger: memory.logger });
    const settings = reopened.settings(GUILD);
    expect(settings.persona).toEqual(testDefaults);
    expect(settings.listen).toEqual({ mode: "everyone" });
    expect(settings.captions).toEqual({ enabled: true, channelId: CHANNEL });
    expect(memory.lines.join("\n")).toMatch(/persona is not valid JSON/);
    expect(memory.lines.join("\n")).toMatch(/listen_mode/);
    // A later change heals the persona column.
    expect(reopened.changePersona(GUILD, { temperature: 1 }).ok).toBe(true);
    expect(reopened.settings(GUILD).persona.temperature).toBe(1);
  });

  it.each([
    ['{"voice": 7}', /wrongly typed fields: voice/],
    ['{"turnDetection": {"threshold": "high"}}', /turnDetection.threshold/],
    ['{"temperature": 9}', /temperature/],
    ["[1,2]", /not a JSON object/],
  ])("rejects the stored persona %s", (json, problem) => {
    open().changePersona(GUILD, { voice: "coral" });
    const raw = new DatabaseSync(path);
    raw.prepare("UPDATE guild_settings SET persona = ? WHERE guild_id = ?").run(json, GUILD);
    raw.close();
    const memory = createMemoryLogger();
    expect(open({ logger: memory.logger }).settings(GUILD).persona).toEqual(testDefaults);
    expect(memory.lines.join("\n")).toMatch(problem);
  });

  it("takes defaults for persona fields an older row does not have", () => {
    open().changePersona(GUILD, { voice: "coral" });
    const raw = new DatabaseSync(path);
    raw.prepare("UPDATE guild_settings SET persona = ? WHERE guild_id = ?").run('{"voice":"ash"}', GUILD);
    raw.close();
    expect(open().settings(GUILD).persona).toEqual({ ...testDefaults, voice: "ash" });
  });
});

describe("usage", () => {
  it("accumulates per guild per UTC day", () => {
    let now = Date.parse("2025-03-01T23:59:00Z");
    const store = open({ now: () => now });
    store.addUsage(GUILD, { secondsAppended: 1.5, inputTokens: 10, totalTokens: 10 });
    store.addUsage(GUILD, { secondsAppended: 2, secondsPlayed: 3.25, outputTokens: 20, totalTokens: 20 });
    store.addUsage(OTHER, { inputTokens: 99 });
    expect(store.usageToday(GUILD)).toEqual({
      day: "2025-03-01",
      secondsAppended: 3.5,
      secondsPlayed: 3.25,
      inputTokens: 10,
      outputTokens: 20,
      totalTokens: 30,
    });
    now = Date.parse("2025-03-02T00:00:01Z");
    expect(store.usageToday(GUILD)).toMatchObject({ day: "2025-03-02", secondsAppended: 0, totalTokens: 0 });
    store.addUsage(GUILD, { secondsPlayed: 1 });
    store.close();
    expect(open({ now: () => now }).usageToday(GUILD)).toMatchObject({ secondsPlayed: 1, inputTokens: 0 });
  });

  it("skips invalid figures with a log line", () => {
    const memory = createMemoryLogger();
    const store = open({ logger: memory.logger });
    store.addUsage(GUILD, { secondsAppended: Number.NaN, secondsPlayed: -1, inputTokens: 4 });
    expect(store.usageToday(GUILD)).toMatchObject({ secondsAppended: 0, secondsPlayed: 0, inputTokens: 4 });
    expect(memory.lines.filter((line) => line.includes("invalid usage figure"))).toHaveLength(2);
  });
});

describe("database file", () => {
  it("uses WAL, a full sync and the latest schema", () => {
    open();
    const raw = new DatabaseSync(path);
    expect(raw.prepare("PRAGMA journal_mode").get()?.journal_mode).toBe("wal");
    expect(raw.prepare("PRAGMA user_version").get()?.user_version).toBe(MIGRATIONS.at(-1)?.version);
    raw.close();
  });

  it("migrates a database from an older schema version and keeps its rows", () => {
    mkdirSync(dirname(path), { recursive: true });
    const raw = new DatabaseSync(path);
    const first = MIGRATIONS[0];
    if (first === undefined) throw new Error("no migrations");
    raw.exec(first.sql);
    raw.exec(`PRAGMA user_version = ${first.version}`);
    raw
      .prepare(
        "INSERT INTO guild_settings (guild_id, persona, listen_mode, updated_at) VALUES (?, ?, 'initiator', 0)",
      )
      .run(GUILD, JSON.stringify({ ...testDefaults, voice: "sage" }));
    raw.close();

    const store = open();
    expect(store.settings(GUILD).persona.voice).toBe("sage");
    expect(store.settings(GUILD).listen).toEqual({ mode: "initiator" });
    store.addUsage(GUILD, { inputTokens: 3 });
    expect(store.usageToday(GUILD).inputTokens).toBe(3);
  });

  it("refuses a database from a newer build with a readable message", () => {
    open().close();
    const raw = new DatabaseSync(path);
    raw.exec("PRAGMA user_version = 99");
    raw.close();
    expect(() => open()).toThrow(StoreOpenError);
    expect(() => open()).toThrow(/schema version 99, newer than this build knows/);
  });

  it("names DATABASE_PATH when the file is not a database", () => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, "this is a text file, not SQLite\n".repeat(200));
    expect(() => open()).toThrow(
      /cannot open the database at .*bot\.sqlite \(DATABASE_PATH\): file is not a database/,
    );
  });
});
