import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppHarness } from "../../src/sim/app-harness.ts";
import type { InteractionResponse } from "../../src/sim/discord/index.ts";
import { captureLogs } from "./logs.ts";

/**
 * Every command through the real discord.js client logged in to the loopback Discord: what the
 * member sees (one initial response, the right visibility, the text or embed) and that nothing
 * else is sent.
 */

const logs = captureLogs();
let h: AppHarness;
beforeAll(async () => {
  // This file runs more commands in one guild within a minute than its default budget (20); the
  // budget itself is tested in test/discord.
  h = await AppHarness.start({ logger: logs.logger, env: { COMMANDS_PER_MINUTE_PER_GUILD: "100" } });
}, 30_000);
afterAll(async () => h?.close());

/** The owner has every permission; alice (h.userId) has none of the settings ones. */
const owner = () => ({ userId: h.guild.ownerId });

function only(
  responses: readonly InteractionResponse[],
  kind: InteractionResponse["kind"],
  ephemeral: boolean,
) {
  expect(responses.map((r) => r.kind)).toEqual([kind]);
  expect(responses[0]!.ephemeral).toBe(ephemeral);
  return responses[0]!;
}

function text(response: InteractionResponse): string {
  return [response.content ?? "", ...response.embeds.map((embed) => JSON.stringify(embed))].join("\n");
}

async function answer(
  command: string,
  values: Record<string, string | number | boolean> = {},
  options: { userId?: string; permissionOverride?: boolean } = {},
  count = 1,
) {
  const record = h.discord.command(h.guild.id, options.userId ?? h.userId, command, values, options);
  return h.settled(record, count);
}

describe("what the bot asks Discord for when it connects", () => {
  it("identifies with the Guilds and GuildVoiceStates intents only (1 | 128), once", () => {
    expect(h.discord.gatewayCounters.intents).toBe(1 | 128);
    expect(h.discord.gatewayCounters.identifies).toBe(1);
  });
});

describe("every command answers once, as the member should see it", () => {
  it("/status: one ephemeral embed, no stray error", async () => {
    const reply = only(await answer("status"), "reply", true);
    expect(text(reply)).toMatch(/Not in a voice channel|not in a voice channel/i);
    expect(logs.lines().some((line) => line.msg === "handler finished without answering")).toBe(false);
  });

  it("/persona show: the settings embed, ephemeral", async () => {
    const reply = only(await answer("persona show", {}, owner()), "reply", true);
    expect(reply.embeds[0]?.title).toBe("Persona");
    expect(text(reply)).toContain("alloy");
  });

  it("/persona set: saved and said so; a bad value names the field and saves nothing", async () => {
    const saved = only(
      await answer("persona set", { voice: "echo", temperature: 0.9 }, owner()),
      "reply",
      true,
    );
    expect(saved.content).toMatch(/^Saved: .*voice echo.*temperature 0\.9/);
    const refused = only(await answer("persona set", { voice: "robot" }, owner()), "reply", true);
    expect(refused.content).toMatch(/^Nothing was saved:\n• voice:/);
    const shown = only(await answer("persona show", {}, owner()), "reply", true);
    expect(text(shown)).toContain("echo");
    expect(text(shown)).not.toContain("robot");
  });

  it("/persona set: the turn-taking options, as Discord sends them, saved and shown; a bad one refused", async () => {
    const saved = only(
      await answer(
        "persona set",
        {
          turn_taking: "smart",
          min_interruption_ms: 700,
          wake_mode: "group",
          wake_name: "Nova",
          follow_up_seconds: 45,
        },
        owner(),
      ),
      "reply",
      true,
    );
    expect(saved.content).toMatch(/^Saved: /);
    const refused = only(await answer("persona set", { wake_name: "42" }, owner()), "reply", true);
    expect(refused.content).toMatch(/^Nothing was saved:\n• wake name:/);
    // Discord's own client keeps numbers inside the declared range.
    expect(() =>
      h.discord.command(h.guild.id, h.guild.ownerId, "persona set", { min_interruption_ms: 50 }),
    ).toThrow(/out of its range/);
    const shown = text(only(await answer("persona show", {}, owner()), "reply", true));
    expect(shown).toContain("stop for speech over 700 ms");
    expect(shown).toContain("Nova: needed when two or more people are in the channel, or within 45 s");
    expect(shown).not.toContain("42");
  });

  it("/persona set without Manage Server is refused and nothing is saved", async () => {
    const refused = only(
      await answer("persona set", { voice: "shimmer" }, { permissionOverride: true }),
      "reply",
      true,
    );
    expect(refused.content).toContain("Manage Server");
    const shown = only(await answer("persona show", {}, owner()), "reply", true);
    expect(text(shown)).not.toContain("shimmer");
  });

  it("Discord itself hides /persona from members without Manage Server", () => {
    expect(() => h.discord.command(h.guild.id, h.userId, "persona show")).toThrow(/hides \/persona/);
  });

  it("/persona listen: role mode needs a role, and the answer names the field", async () => {
    const refused = only(await answer("persona listen", { mode: "role" }, owner()), "reply", true);
    expect(refused.content).toMatch(/^role: .*Nothing was saved\./);
    const saved = only(await answer("persona listen", { mode: "initiator" }, owner()), "reply", true);
    expect(saved.content).toMatch(/^I listen to /);
  });

  it("/persona instructions: a modal prefilled with the instructions, then the submit saves them", async () => {
    const shown = h.discord.command(h.guild.id, h.guild.ownerId, "persona instructions");
    const [modal] = await h.settled(shown);
    expect(shown.responses.map((r) => r.kind)).toEqual(["modal"]);
    expect(JSON.stringify(modal!.modal)).toContain("friendly voice assistant");
    const submitted = h.discord.submitModal(shown, { instructions: "You are a pirate." });
    const saved = only(await h.settled(submitted), "reply", true);
    expect(saved.content).toMatch(/^Instructions saved\./);
    const after = only(await answer("persona show", {}, owner()), "reply", true);
    expect(text(after)).toContain("You are a pirate.");
  });

  it("/persona reset: back to the default persona", async () => {
    const reset = only(await answer("persona reset", {}, owner()), "reply", true);
    expect(reset.content).toMatch(/^The persona is back to the configured default/);
    const shown = only(await answer("persona show", {}, owner()), "reply", true);
    expect(text(shown)).not.toContain("pirate");
    expect(text(shown)).toContain("alloy");
  });

  it("voice autocomplete: type 8 choices matching what was typed", async () => {
    const record = h.discord.autocomplete(
      h.guild.id,
      h.guild.ownerId,
      "persona set",
      { voice: "sh" },
      "voice",
    );
    const [response] = await h.settled(record);
    expect(record.responses.map((r) => r.kind)).toEqual(["autocomplete"]);
    const names = response!.choices!.map((choice) => choice.name);
    expect(names[0]).toBe("shimmer");
    expect(names.length).toBeLessThanOrEqual(25);
  });

  it("/captions on|off answer ephemerally; a channel the bot cannot post in is refused by name", async () => {
    const on = only(await answer("captions on", { channel: h.guild.textChannelId }, owner()), "reply", true);
    expect(on.content).toMatch(/^Captions are on/);
    const off = only(await answer("captions off", {}, owner()), "reply", true);
    expect(off.content).toMatch(/^Captions are off/);
    const hidden = h.discord.addChannel(h.guild.id, "mods-only", 0);
    h.discord.setOverwrite(h.guild.id, hidden, { id: h.guild.id, type: 0, allow: 0n, deny: 1n << 11n });
    const refused = only(await answer("captions on", { channel: hidden }, owner()), "reply", true);
    expect(refused.content).toMatch(/^channel: I lack .*Send Messages.*Nothing was saved\./);
  });

  it("/leave when not in a channel: one ephemeral line", async () => {
    const reply = only(await answer("leave"), "reply", true);
    expect(reply.content).toBe("I'm not in a voice channel here.");
  });

  it("/join outside a voice channel says what to do", async () => {
    const reply = only(await answer("join"), "reply", true);
    expect(reply.content).toMatch(/^Join a voice channel first/);
  });

  it("/join, /status, /leave in voice: deferred then edited once, public; the conversation ends", async () => {
    h.discord.setUserVoice(h.guild.id, h.userId, h.guild.voiceChannelId);
    const joined = await answer("join", {}, {}, 2);
    expect(joined.map((r) => r.kind)).toEqual(["defer", "edit-original"]);
    expect(joined.every((r) => !r.ephemeral)).toBe(true);
    expect(joined[1]!.embeds[0]?.title).toBe("Listening");
    expect(h.app.conversations.isActive(h.guild.id)).toBe(true);
    const status = only(await answer("status"), "reply", true);
    expect(text(status)).toContain(h.guild.voiceChannelId);
    const left = await answer("leave", {}, {}, 2);
    expect(left.map((r) => r.kind)).toEqual(["defer", "edit-original"]);
    expect(h.app.conversations.isActive(h.guild.id)).toBe(false);
    h.discord.setUserVoice(h.guild.id, h.userId, null);
  });

  it("a slow join (Voice Live slow to answer) is deferred before 3 s and edited once", async () => {
    h.discord.setUserVoice(h.guild.id, h.userId, h.guild.voiceChannelId);
    h.local.delayEventsMs = 3_500;
    try {
      const record = h.discord.command(h.guild.id, h.userId, "join");
      const responses = await h.settled(record, 2);
      expect(responses.map((r) => r.kind)).toEqual(["defer", "edit-original"]);
      expect(responses[0]!.at - record.createdAt).toBeLessThan(3_000);
      expect(responses[1]!.at - record.createdAt).toBeGreaterThanOrEqual(3_000);
      expect(record.rejected).toEqual([]);
    } finally {
      h.local.delayEventsMs = 0;
    }
    await h.settled(h.discord.command(h.guild.id, h.userId, "leave"), 2);
    h.discord.setUserVoice(h.guild.id, h.userId, null);
  });

  it("an interaction delivered after its 3 s window is logged, and the bot carries on", async () => {
    const late = h.discord.command(h.guild.id, h.userId, "status", {}, { ageMs: 4_000 });
    await h.discord.until(() => late.rejected.length > 0, 10_000, "the late answer was refused");
    expect(late.rejected[0]!.code).toBe(10062);
    expect(late.responses).toEqual([]);
    await h.settled(late, 0);
    const logged = logs.lines().filter((line) => line.command === "status" && line.level >= 40);
    expect(logged.map((line) => line.msg)).toEqual([
      "the interaction expired before it was answered (Discord allows 3 s)",
    ]);
    // Nothing else was attempted: one refused callback, no follow-up.
    expect(h.discord.requests.filter((r) => r.route.includes(late.token)).map((r) => r.status)).toEqual([
      404,
    ]);
    const next = only(await answer("status"), "reply", true);
    expect(next.content ?? next.embeds.length).toBeTruthy();
  });

  it("/join where a channel overwrite denies the bot Connect: refused by name, nothing joined", async () => {
    const locked = h.discord.addChannel(h.guild.id, "Locked");
    h.discord.setOverwrite(h.guild.id, locked, { id: h.discord.bot.id, type: 1, allow: 0n, deny: 1n << 20n });
    h.discord.setUserVoice(h.guild.id, h.userId, locked);
    const reply = only(await answer("join"), "reply", true);
    expect(reply.content).toMatch(new RegExp(`^I can't join <#${locked}>: I lack Connect there\\.`));
    expect(h.discord.botVoiceChannel(h.guild.id)).toBeNull();
    expect(h.app.conversations.isActive(h.guild.id)).toBe(false);
    h.discord.setUserVoice(h.guild.id, h.userId, null);
  });

  it("no command posted anything in a channel", () => {
    expect(h.discord.messages(h.guild.textChannelId)).toEqual([]);
  });
});
