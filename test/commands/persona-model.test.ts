/**
 * `/persona set` and voice autocomplete against the configured model: a setting the model cannot
 * use is refused through the command handler, naming the option and what the model accepts, and
 * nothing is saved; autocomplete offers only voices the model can speak with.
 */
import { afterEach, describe, expect, it } from "vitest";
import { command as persona } from "../../commands/persona.ts";
import { personaRules } from "../../src/bridge/persona-rules.ts";
import { defaultPersona, OPENAI_VOICES } from "../../src/persona.ts";
import { openSqliteStore } from "../../src/store/sqlite-store.ts";
import type { SessionTarget } from "../../src/voicelive/capabilities.ts";
import {
  commandContext,
  createHarness,
  GUILD_ID,
  type Harness,
  type OptionValue,
  USER_ID,
} from "../discord/doubles.ts";

const CASCADED: SessionTarget = { model: "gpt-4.1", apiVersion: "2026-07-15", agentMode: false };
const AGENT: SessionTarget = { model: undefined, apiVersion: "2026-07-15", agentMode: true };
const NATIVE: SessionTarget = { model: "azure-realtime", apiVersion: "2026-07-15", agentMode: false };
const AZURE_DEFAULT = defaultPersona({ instructions: "Be brief.", voice: "en-US-AvaMultilingualNeural" });

let h: Harness | undefined;
afterEach(() => h?.store.close());

/** The shared harness, with a store that checks personas against `target`. */
async function harnessFor(target: SessionTarget): Promise<Harness> {
  const base = await createHarness();
  await base.store.close();
  const store = await openSqliteStore({
    path: ":memory:",
    defaults: AZURE_DEFAULT,
    rules: personaRules(target),
  });
  h = { ...base, store, services: { ...base.services, store } };
  return h;
}

async function set(harness: Harness, options: Record<string, OptionValue>): Promise<string> {
  await persona.execute(commandContext(harness, "persona", { subcommand: "set", options }), harness.services);
  const call = harness.transport.calls.at(-1);
  return JSON.stringify(call);
}

describe("/persona set against the configured model", () => {
  it.each([
    [
      "an OpenAI voice on a cascaded model",
      CASCADED,
      { voice: "alloy" },
      /voice: \\"alloy\\" is an OpenAI voice, not available with model gpt-4.1 at api-version 2026-07-15; it takes azure-standard, azure-custom or azure-personal voices/,
    ],
    [
      "semantic_vad on a cascaded model",
      CASCADED,
      { turn_detection: "semantic_vad" },
      /turn_detection: semantic_vad is not available with model gpt-4.1 at api-version 2026-07-15; it accepts server_vad, azure_semantic_vad/,
    ],
    [
      "a temperature in agent mode",
      AGENT,
      { temperature: 0.9 },
      /temperature: in agent mode the agent's own temperature applies/,
    ],
  ])("refuses %s and saves nothing", async (_name, target, options, expected) => {
    const harness = await harnessFor(target);
    const before = (await harness.store.settings(GUILD_ID)).persona;
    const reply = await set(harness, options);
    expect(reply).toMatch(expected);
    expect((await harness.store.settings(GUILD_ID)).persona).toEqual(before);
  });

  it("saves what the model can use", async () => {
    const harness = await harnessFor(NATIVE);
    await set(harness, { voice: "ava", turn_detection: "azure_semantic_vad" });
    expect((await harness.store.settings(GUILD_ID)).persona).toMatchObject({
      voice: "ava",
      turnDetection: { type: "azure_semantic_vad" },
    });
  });
});

describe("voice autocomplete against the configured model", () => {
  const ctx = { guildId: GUILD_ID, userId: USER_ID, commandName: "persona", subcommand: "set" };
  const offered = async (target: SessionTarget, typed: string): Promise<string[]> => {
    const harness = await harnessFor(target);
    return (
      persona.autocomplete?.({ ...ctx, focused: { name: "voice", value: typed } }, harness.services) ?? []
    ).map((choice) => String(choice.value));
  };

  it("offers no OpenAI voice to a cascaded model or an agent", async () => {
    for (const target of [CASCADED, AGENT]) {
      const all = await offered(target, "");
      expect(all.length).toBeGreaterThan(0);
      expect(all.filter((voice) => OPENAI_VOICES.includes(voice))).toEqual([]);
    }
  });

  it("offers the azure-realtime voices only to azure-realtime at a version that has them", async () => {
    expect(await offered(NATIVE, "ava")).toContain("ava");
    expect(await offered({ ...NATIVE, apiVersion: "2026-04-10" }, "ava")).not.toContain("ava");
    expect(await offered(CASCADED, "ava")).not.toContain("ava");
    expect(
      await offered({ model: "gpt-realtime", apiVersion: "2026-07-15", agentMode: false }, "al"),
    ).toContain("alloy");
  });
});
