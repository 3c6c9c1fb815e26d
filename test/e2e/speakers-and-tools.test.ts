import { PermissionFlagsBits } from "discord.js";
import { afterEach, describe, expect, it } from "vitest";
import { AppHarness } from "../../src/sim/app-harness.ts";
import type { ConversationItem } from "../../src/voicelive/protocol.ts";
import { waitFor } from "../sim/voice-test-kit.ts";
import { botPackets, heardBy, QUESTION } from "./helpers.ts";
import { captureLogs } from "./logs.ts";

/**
 * Who is speaking and what the model may do, through the whole bot: the loopback Discord's members
 * talk in the voice channel, and the local Voice Live server shows what the model was told and
 * can be made to call a tool.
 */

let h: AppHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function start(): Promise<AppHarness> {
  h = await AppHarness.start({ logger: captureLogs().logger });
  return h;
}

/** A member of the guild in the voice channel, heard by the bot. */
async function member(harness: AppHarness, username: string, roleIds: string[] = []): Promise<string> {
  const id = harness.discord.addMember(harness.guild.id, { username, roleIds });
  harness.discord.setUserVoice(harness.guild.id, id, harness.guild.voiceChannelId);
  return id;
}

/** The member asks something and the bot answers (its answer reaches the channel). */
async function turn(harness: AppHarness, userId: string): Promise<void> {
  await heardBy(harness, userId);
  const before = botPackets(harness);
  await harness.voice.speakAs(harness.guild.id, userId, { opus: QUESTION });
  await waitFor(() => botPackets(harness) >= before + 20, "the bot's answer", 15_000);
}

function text(item: ConversationItem): string {
  if (item.type !== "message") return "";
  return item.content.map((part) => ("text" in part ? part.text : "")).join("");
}

/** The conversation as the server keeps it: speaker notes, user turns, tool outputs. */
function transcriptOf(harness: AppHarness): string[] {
  return harness.local.conversationItems().flatMap((item) => {
    if (item.type === "message" && item.role === "system") return [`note: ${text(item)}`];
    if (item.type === "message" && item.role === "user") return ["user audio"];
    if (item.type === "function_call") return [`call: ${item.name}`];
    if (item.type === "function_call_output") return [`output: ${item.output}`];
    return [];
  });
}

function voiceOf(harness: AppHarness): string | undefined {
  const voice = harness.local.sessionInfo()?.voice;
  return typeof voice === "string" ? voice : voice?.name;
}

function sessionUpdates(harness: AppHarness): number {
  return harness.local.clientEvents.at(-1)?.types.filter((type) => type === "session.update").length ?? 0;
}

async function toolOutputs(harness: AppHarness, count: number): Promise<readonly string[]> {
  const outputs = () => transcriptOf(harness).filter((line) => line.startsWith("output: "));
  await waitFor(() => outputs().length >= count, `${count} tool output(s)`, 15_000);
  return outputs();
}

describe("who is speaking", () => {
  it("names the right speaker before each user turn, and the roster follows a third member once", async () => {
    const harness = await start();
    const bob = await member(harness, "bob");
    await harness.join();
    expect(harness.local.sessionInfo()?.instructions).toMatch(
      /In the channel now: .*"alice".*"bob"|"bob".*"alice"/,
    );

    await turn(harness, harness.userId);
    await turn(harness, bob);
    const spoken = () =>
      transcriptOf(harness).filter((line) => line.startsWith("note") || line === "user audio");
    await waitFor(() => spoken().length >= 4, "both turns in the conversation", 10_000);
    expect(spoken()).toEqual([
      'note: Speaking in the next turn: "alice".',
      "user audio",
      'note: Speaking in the next turn: "bob".',
      "user audio",
    ]);

    const updates = sessionUpdates(harness);
    await member(harness, "carol");
    await waitFor(
      () => /"carol"/.test(harness.local.sessionInfo()?.instructions ?? ""),
      "carol in the roster",
      10_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(sessionUpdates(harness)).toBe(updates + 1);
  }, 90_000);
});

describe("tools", () => {
  it("refuses change_voice to a member without Manage Server, and applies it live for one with it", async () => {
    const harness = await start();
    const mods = harness.discord.addRole(harness.guild.id, "mods", PermissionFlagsBits.ManageGuild);
    const mod = await member(harness, "mod", [mods]);
    await harness.join();
    expect(voiceOf(harness)).toBe("alloy");

    harness.local.callToolNext({ name: "change_voice", arguments: JSON.stringify({ voice: "echo" }) });
    await turn(harness, harness.userId);
    const [refused] = await toolOutputs(harness, 1);
    expect(refused).toContain('"error":"refused"');
    expect(refused).toContain("alice may not");
    expect(voiceOf(harness)).toBe("alloy");

    harness.local.callToolNext({ name: "change_voice", arguments: JSON.stringify({ voice: "echo" }) });
    await turn(harness, mod);
    // A new voice needs a new session: the result reaches its conversation as a note.
    await waitFor(() => voiceOf(harness) === "echo", "the new voice in the session", 10_000);
    await waitFor(
      () =>
        transcriptOf(harness).some((line) => line.includes("You ran change_voice") && line.includes("echo")),
      "the result in the new conversation",
      10_000,
    );
    const show = await harness.settled(
      harness.discord.command(harness.guild.id, harness.guild.ownerId, "persona show"),
    );
    expect(JSON.stringify(show)).toContain("echo");
  }, 90_000);

  it("leave_channel ends the conversation with one notice naming who asked", async () => {
    const harness = await start();
    await harness.join();
    harness.local.callToolNext({ name: "leave_channel", arguments: "{}" });
    await heardBy(harness, harness.userId);
    await harness.voice.speakAs(harness.guild.id, harness.userId, { opus: QUESTION });
    await waitFor(() => !harness.app.conversations.isActive(harness.guild.id), "the bot to leave", 15_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(harness.discord.messages(harness.guild.voiceChannelId).map((m) => m.versions[0]!.content)).toEqual(
      ["Leaving the voice channel: alice asked me to."],
    );
  }, 60_000);

  it("/persona tools turns a tool off for the running conversation", async () => {
    const harness = await start();
    await harness.join();
    const toolNames = () => (harness.local.sessionInfo()?.tools ?? []).map((tool) => tool.name);
    expect(toolNames()).toContain("change_voice");
    const replies = await harness.settled(
      harness.discord.command(harness.guild.id, harness.guild.ownerId, "persona tools", {
        tool: "change_voice",
        enabled: false,
      }),
    );
    expect(replies.at(-1)?.content).toMatch(
      /^change_voice is off\. Tools on: leave_channel, who_is_here, current_time, set_captions/,
    );
    await waitFor(() => !toolNames().includes("change_voice"), "the session without change_voice", 10_000);
    expect(toolNames()).toEqual(["leave_channel", "who_is_here", "current_time", "set_captions"]);
  }, 60_000);
});
