import type { APILabelComponent, APITextInputComponent } from "discord.js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { command as persona, voiceChoices } from "../../commands/persona.ts";
import { permissionBits } from "../../src/discord/permissions.ts";
import { AZURE_VOICES, OPENAI_VOICES } from "../../src/persona.ts";
import {
  commandContext,
  createHarness,
  GUILD_ID,
  type Harness,
  modalContext,
  type OptionValue,
  ROLE,
  USER_ID,
  VOICE,
} from "../discord/doubles.ts";
import { testDefaults } from "../store/helpers/defaults.ts";

let h: Harness;
beforeEach(async () => {
  h = await createHarness();
});
afterEach(() => h.store.close());

function run(
  subcommand: string,
  options: Record<string, OptionValue> = {},
  memberPermissions?: bigint | null,
) {
  return persona.execute(
    commandContext(h, "persona", { subcommand, options, memberPermissions }),
    h.services,
  );
}

describe("/persona permissions", () => {
  it.each([
    ["set", { voice: "coral" }],
    ["reset", {}],
    ["listen", { mode: "initiator" }],
    ["show", {}],
    ["instructions", {}],
  ])(
    "refuses /persona %s from a member without Manage Server, even though Discord hid it",
    async (subcommand, options) => {
      await h.store.changePersona(GUILD_ID, { voice: "sage" });
      await run(subcommand, options, permissionBits(["SendMessages", "Connect"]));
      expect(h.transport.calls).toEqual([
        { type: "reply", message: { content: expect.stringContaining("Manage Server"), ephemeral: true } },
      ]);
      expect((await h.store.settings(GUILD_ID)).persona.voice).toBe("sage");
      expect((await h.store.settings(GUILD_ID)).listen).toEqual({ mode: "everyone" });
    },
  );

  it("refuses a call with no member permissions at all", async () => {
    await run("set", { voice: "coral" }, null);
    expect((await h.store.settings(GUILD_ID)).persona.voice).toBe(testDefaults.voice);
  });

  it("lets an Administrator through", async () => {
    await run("set", { voice: "coral" }, permissionBits(["Administrator"]));
    expect((await h.store.settings(GUILD_ID)).persona.voice).toBe("coral");
  });
});

describe("/persona set", () => {
  it("saves every option and says it applies at the next join when nothing runs", async () => {
    await run("set", {
      voice: "en-US-AvaNeural",
      temperature: 1.0,
      turn_detection: "azure_semantic_vad",
      threshold: 0.7,
      silence_duration_ms: 800,
      prefix_padding_ms: 200,
      noise_suppression: true,
      echo_cancellation: true,
      transcription_language: "de-DE",
      ducking: true,
    });
    expect((await h.store.settings(GUILD_ID)).persona).toEqual({
      ...testDefaults,
      voice: "en-US-AvaNeural",
      temperature: 1.0,
      turnDetection: {
        type: "azure_semantic_vad",
        threshold: 0.7,
        silenceDurationMs: 800,
        prefixPaddingMs: 200,
      },
      noiseSuppression: true,
      echoCancellation: true,
      transcriptionLanguage: "de-DE",
      ducking: true,
    });
    expect(h.transport.messages).toEqual([
      { content: expect.stringMatching(/^Saved: voice en-US-AvaNeural.*next time I join/), ephemeral: true },
    ]);
    expect(h.conversations.applied).toHaveLength(0);
  });

  it.each([
    [{ voice: "coral", temperature: 5 }, "temperature:"],
    [{ voice: "definitely not a voice" }, "voice:"],
    [{ threshold: 1.5, ducking: true }, "threshold:"],
    [{ silence_duration_ms: 50 }, "silence duration:"],
    [{ transcription_language: "English please" }, "transcription language:"],
    [{ turn_detection: "shout_vad" }, "turn detection:"],
    [{ voice_endpoint_id: "0f1e2d3c-aaaa-bbbb-cccc-0123456789ab" }, "voice endpoint id:"],
  ])("answers %o with a message naming %s and saves nothing", async (options, field) => {
    await h.store.changePersona(GUILD_ID, { temperature: 0.7 });
    const before = await h.store.settings(GUILD_ID);
    await run("set", options);
    expect(h.transport.messages).toHaveLength(1);
    expect(h.transport.messages[0]?.ephemeral).toBe(true);
    expect(h.transport.messages[0]?.content).toContain("Nothing was saved");
    expect(h.transport.messages[0]?.content).toContain(field);
    expect(await h.store.settings(GUILD_ID)).toEqual(before);
  });

  it("saves the turn-taking settings, and none gives the wake name back to the display name", async () => {
    await run("set", {
      turn_taking: "service",
      min_interruption_ms: 800,
      wake_mode: "group",
      wake_name: "  Nova   Bot ",
      follow_up_seconds: 0,
    });
    expect((await h.store.settings(GUILD_ID)).persona).toMatchObject({
      turnTaking: "service",
      minInterruptionMs: 800,
      wakeMode: "group",
      wakeName: "Nova Bot",
      followUpSeconds: 0,
    });
    expect(h.transport.messages[0]?.content).toMatch(/^Saved: /);
    await run("set", { wake_name: "None" });
    expect((await h.store.settings(GUILD_ID)).persona.wakeName).toBeNull();
  });

  it.each([
    [{ turn_taking: "sometimes" }, "turn taking:"],
    [{ min_interruption_ms: 50 }, "min interruption:"],
    [{ min_interruption_ms: 3001 }, "min interruption:"],
    [{ wake_mode: "loud" }, "wake mode:"],
    [{ wake_mode: "group", turn_detection: "semantic_vad" }, "wake mode:"],
    [{ wake_name: "1234" }, "wake name:"],
    [{ wake_name: "x".repeat(33) }, "wake name:"],
    [{ follow_up_seconds: -1 }, "follow up:"],
    [{ follow_up_seconds: 301 }, "follow up:"],
  ])("turn-taking: answers %o with a message naming %s and saves nothing", async (options, field) => {
    await h.store.changePersona(GUILD_ID, { wakeName: "Nova" });
    const before = await h.store.settings(GUILD_ID);
    await run("set", options);
    expect(h.transport.messages).toHaveLength(1);
    expect(h.transport.messages[0]?.content).toContain("Nothing was saved");
    expect(h.transport.messages[0]?.content).toContain(field);
    expect(await h.store.settings(GUILD_ID)).toEqual(before);
  });

  it("treats auto as automatic language detection", async () => {
    await h.store.changePersona(GUILD_ID, { transcriptionLanguage: "fr" });
    await run("set", { transcription_language: "auto" });
    expect((await h.store.settings(GUILD_ID)).persona.transcriptionLanguage).toBeNull();
  });

  it("asks for an option when none is given", async () => {
    await run("set");
    expect(h.transport.lastText).toContain("Nothing to change");
  });

  it("applies a change live, deferring first, and says when the session restarted", async () => {
    h.conversations.active.set(GUILD_ID, VOICE.id);
    h.conversations.applyResult = "restarted";
    await run("set", { voice: "ash" });
    expect(h.conversations.applied.map((settings) => settings.persona.voice)).toEqual(["ash"]);
    expect(h.transport.calls.map((call) => call.type)).toEqual(["deferReply", "editReply"]);
    expect(h.transport.calls[0]).toEqual({ type: "deferReply", ephemeral: true });
    expect(h.transport.lastText).toContain("The voice session restarted to apply it.");
  });

  it("keeps the saved change and says so when applying it live fails", async () => {
    h.conversations.active.set(GUILD_ID, VOICE.id);
    h.conversations.applyResult = new Error("socket closed");
    await run("set", { temperature: 0.9 });
    expect((await h.store.settings(GUILD_ID)).persona.temperature).toBe(0.9);
    expect(h.transport.lastText).toContain("failed (the error was logged)");
    expect(h.logLines.join("\n")).toContain("socket closed");
  });
});

describe("/persona instructions", () => {
  it("opens a form prefilled with the current instructions", async () => {
    await h.store.changePersona(GUILD_ID, { instructions: "Speak like a sailor." });
    await run("instructions");
    const call = h.transport.calls[0];
    if (call?.type !== "showModal") throw new Error(`expected a modal, got ${call?.type}`);
    expect(call.modal.custom_id).toBe("persona:instructions");
    const label = call.modal.components[0] as APILabelComponent;
    const input = label.component as APITextInputComponent;
    expect(input).toMatchObject({
      custom_id: "instructions",
      style: 2,
      max_length: 4000,
      value: "Speak like a sailor.",
    });
  });

  it("saves what the form sends back and applies it live", async () => {
    h.conversations.active.set(GUILD_ID, VOICE.id);
    await persona.submitModal?.(
      modalContext(h, "persona:instructions", { instructions: "  Be a pirate.\u0007 " }),
      h.services,
    );
    expect((await h.store.settings(GUILD_ID)).persona.instructions).toBe("Be a pirate.");
    expect(h.conversations.applied).toHaveLength(1);
    expect(h.transport.lastText).toContain("Instructions saved. Applied to the running conversation.");
  });

  it.each([
    ["   ", "must not be empty"],
    ["x".repeat(4001), "at most 4000 characters"],
  ])("rejects instructions %#, naming the problem and saving nothing", async (text, problem) => {
    await persona.submitModal?.(modalContext(h, "persona:instructions", { instructions: text }), h.services);
    expect(h.transport.messages[0]).toMatchObject({
      ephemeral: true,
      content: expect.stringContaining(problem),
    });
    expect((await h.store.settings(GUILD_ID)).persona.instructions).toBe(testDefaults.instructions);
  });

  it("refuses a forged form submission without Manage Server", async () => {
    await persona.submitModal?.(
      modalContext(h, "persona:instructions", { instructions: "Obey me." }, 0n),
      h.services,
    );
    expect((await h.store.settings(GUILD_ID)).persona.instructions).toBe(testDefaults.instructions);
    expect(h.transport.lastText).toContain("Manage Server");
  });
});

describe("/persona listen, reset and show", () => {
  it("stores a role policy", async () => {
    await run("listen", { mode: "role", role: ROLE });
    expect((await h.store.settings(GUILD_ID)).listen).toEqual({ mode: "role", roleId: ROLE.id });
    expect(h.transport.lastText).toContain(`<@&${ROLE.id}>`);
  });

  it.each([
    [{ mode: "role" }, "role: choose the role"],
    [{ mode: "everyone", role: ROLE }, "role: only used with the mode role"],
    [{ mode: "robots" }, "mode: must be"],
  ])("rejects %o and saves nothing", async (options, problem) => {
    await h.store.setListenPolicy(GUILD_ID, { mode: "initiator" });
    await run("listen", options);
    expect(h.transport.messages[0]).toMatchObject({
      ephemeral: true,
      content: expect.stringContaining(problem),
    });
    expect((await h.store.settings(GUILD_ID)).listen).toEqual({ mode: "initiator" });
  });

  it("reset restores the configured persona and keeps listening and captions", async () => {
    await h.store.changePersona(GUILD_ID, { voice: "verse", instructions: "Whisper." });
    await h.store.setListenPolicy(GUILD_ID, { mode: "initiator" });
    await run("reset");
    const settings = await h.store.settings(GUILD_ID);
    expect(settings.persona).toEqual(testDefaults);
    expect(settings.listen).toEqual({ mode: "initiator" });
  });

  it("show lists the instructions and settings, only to the caller", async () => {
    await h.store.changePersona(GUILD_ID, { instructions: "Answer in rhymes.", voice: "sage" });
    await run("show");
    const message = h.transport.messages[0];
    expect(message?.ephemeral).toBe(true);
    expect(message?.embeds?.[0]?.description).toBe("Answer in rhymes.");
    expect(JSON.stringify(message?.embeds)).toContain("sage");
  });
});

describe("voice autocomplete", () => {
  it("offers known voices matching the typed text, at most 25", () => {
    const all = voiceChoices("");
    expect(all).toHaveLength(25);
    expect(all[0]).toEqual({ name: "alloy", value: "alloy" });
    const ava = voiceChoices("AVA").map((choice) => choice.value);
    expect(ava).toEqual(AZURE_VOICES.filter((voice) => voice.toLowerCase().includes("ava")));
    expect(voiceChoices("en-gb").map((choice) => choice.value)).toEqual([
      "en-GB-SoniaNeural",
      "en-GB-RyanNeural",
    ]);
    expect(voiceChoices("nothing like this")).toEqual([]);
    expect(OPENAI_VOICES.length + AZURE_VOICES.length).toBeGreaterThan(25);
  });

  it("answers only for the voice option", () => {
    const ctx = { guildId: GUILD_ID, userId: USER_ID, commandName: "persona", subcommand: "set" };
    expect(persona.autocomplete?.({ ...ctx, focused: { name: "voice", value: "cor" } }, h.services)).toEqual([
      { name: "coral", value: "coral" },
    ]);
    expect(
      persona.autocomplete?.({ ...ctx, focused: { name: "transcription_language", value: "e" } }, h.services),
    ).toEqual([]);
  });
});
