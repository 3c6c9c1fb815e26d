import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { command as persona } from "../../commands/persona.ts";
import {
  applyPersonaChange,
  defaultPersona,
  MAX_INSTRUCTIONS_LENGTH,
  sanitizeText,
} from "../../src/persona.ts";
import { commandContext, createHarness, GUILD_ID, type Harness, modalContext } from "../discord/doubles.ts";
import { testDefaults } from "../store/helpers/defaults.ts";

/**
 * What a member can type reaches the bot's instructions, the Voice Live session and captions, so
 * free text is cleaned (control, zero-width and bidirectional-override characters removed, line
 * endings normalised) and bounded, and a forged request cannot get past what Discord's client
 * would enforce. Covered elsewhere: a BEL in the instructions form and the 4000-character limit
 * (test/commands/persona.test.ts), refusal without Manage Server including a forged modal
 * (same file), and the per-guild command rate limit (test/discord/router.test.ts "rate limit",
 * test/discord/rate-limit.test.ts).
 */

/** One of each class sanitizeText must remove. */
const HOSTILE = {
  nul: "\u0000",
  escape: "\u001b",
  delete: "\u007f",
  c1: "\u0085\u009b",
  zeroWidth: "\u200b\u200c\u200d",
  marks: "\u200e\u200f",
  separators: "\u2028\u2029",
  bidiOverride: "\u202a\u202b\u202c\u202d\u202e",
  bidiIsolate: "\u2066\u2067\u2068\u2069",
} as const;
const ALL_HOSTILE = Object.values(HOSTILE).join("");
/** Any character sanitizeText removes. */
const REMOVED =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069]/;
/** Discord's limit for a message's content. */
const DISCORD_MESSAGE_LIMIT = 2000;

let h: Harness;
beforeEach(async () => {
  h = await createHarness();
});
afterEach(() => h.store.close());

describe("sanitizeText", () => {
  it.each(Object.entries(HOSTILE))("removes %s characters and keeps the words", (_name, hostile) => {
    const cleaned = sanitizeText(`Be${hostile} kind${hostile}.`);
    expect(cleaned).not.toMatch(REMOVED);
    expect(cleaned).toBe("Be kind.");
  });

  it("normalises CR and CRLF to LF, keeps tabs and newlines, and trims", () => {
    expect(sanitizeText("  one\r\ntwo\rthree\n\tfour \u200b ")).toBe("one\ntwo\nthree\n\tfour");
  });
});

describe("persona text fields", () => {
  const base = defaultPersona({ instructions: "Be brief.", voice: "alloy" });

  it("are cleaned in every free-text field before validation", () => {
    const result = applyPersonaChange(base, {
      instructions: `Speak${ALL_HOSTILE} like a pirate.\r\nAlways.`,
      voice: `en-US-${HOSTILE.bidiOverride}AvaNeural${HOSTILE.zeroWidth}`,
      voiceEndpointId: `${HOSTILE.nul}0f8fad5b-d9cb-469f-a165-70867728950e${HOSTILE.marks}`,
      transcriptionLanguage: `en${HOSTILE.bidiIsolate}-US`,
    });
    expect(result).toMatchObject({
      ok: true,
      persona: {
        voice: "en-US-AvaNeural",
        voiceEndpointId: "0f8fad5b-d9cb-469f-a165-70867728950e",
        transcriptionLanguage: "en-US",
      },
    });
    if (!result.ok) return;
    expect(result.persona.instructions).not.toMatch(REMOVED);
    expect(result.persona.instructions).toMatch(/^Speak.* like a pirate\.\nAlways\.$/);
  });

  it("counts the limit after cleaning, and refuses one character more", () => {
    const padded = applyPersonaChange(base, {
      instructions: `${"a".repeat(MAX_INSTRUCTIONS_LENGTH)}${HOSTILE.zeroWidth.repeat(500)}`,
    });
    expect(padded.ok && padded.persona.instructions.length).toBe(MAX_INSTRUCTIONS_LENGTH);
    const over = applyPersonaChange(base, { instructions: "a".repeat(MAX_INSTRUCTIONS_LENGTH + 1) });
    expect(over).toEqual({ ok: false, problems: [expect.stringContaining("at most 4000 characters")] });
  });

  it("refuses instructions that are nothing but invisible characters", () => {
    expect(applyPersonaChange(base, { instructions: ALL_HOSTILE })).toEqual({
      ok: false,
      problems: ["instructions: must not be empty"],
    });
  });
});

describe("/persona from a forged interaction", () => {
  function set(options: Record<string, string>) {
    return persona.execute(commandContext(h, "persona", { subcommand: "set", options }), h.services);
  }

  it("stores cleaned values when hidden characters wrap valid ones", async () => {
    await set({
      voice: `${HOSTILE.bidiOverride}coral${HOSTILE.zeroWidth}`,
      transcription_language: `de${HOSTILE.nul}`,
    });
    expect((await h.store.settings(GUILD_ID)).persona).toMatchObject({
      voice: "coral",
      transcriptionLanguage: "de",
    });
  });

  it.each([
    ["voice", "x".repeat(100_000)],
    ["transcription_language", `en-${"x".repeat(100_000)}`],
    ["voice_endpoint_id", "f".repeat(100_000)],
  ])(
    "refuses an oversized %s (past Discord's option limits) with a short answer, saving nothing",
    async (name, value) => {
      await set({ [name]: value });
      const [answer] = h.transport.messages;
      expect(answer?.ephemeral).toBe(true);
      expect(answer?.content?.length ?? 0).toBeLessThan(DISCORD_MESSAGE_LIMIT);
      expect((await h.store.settings(GUILD_ID)).persona).toEqual(testDefaults);
    },
  );

  it("cleans the instructions form and refuses one longer than the form allows", async () => {
    const submit = (text: string) =>
      persona.submitModal?.(modalContext(h, "persona:instructions", { instructions: text }), h.services);
    // A terminal colour sequence loses its ESC, so it cannot colour an operator's log viewer.
    await submit(`Obey${HOSTILE.bidiOverride} the captain.\r\n${HOSTILE.escape}[31mArr.`);
    expect((await h.store.settings(GUILD_ID)).persona.instructions).toBe("Obey the captain.\n[31mArr.");
    await submit("y".repeat(100_000));
    expect((await h.store.settings(GUILD_ID)).persona.instructions).toBe("Obey the captain.\n[31mArr.");
    expect(h.transport.lastText.length).toBeLessThan(DISCORD_MESSAGE_LIMIT);
  });
});
