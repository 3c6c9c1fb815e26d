import { afterEach, describe, expect, it } from "vitest";
import { AppHarness } from "../../src/sim/app-harness.ts";
import { waitFor } from "../sim/voice-test-kit.ts";
import { askAndHear, botPackets, heardBy, QUESTION, voiceLiveSessions } from "./helpers.ts";
import { captureLogs } from "./logs.ts";

/**
 * What Discord does to the bot's voice connection, through the gateway as Discord does it
 * (VOICE_STATE_UPDATE, VOICE_SERVER_UPDATE, CHANNEL_DELETE, GUILD_DELETE, close 4014), and what the
 * members see and hear.
 */

let h: AppHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function liveConversation(env: Record<string, string> = {}): Promise<AppHarness> {
  h = await AppHarness.start({ logger: captureLogs().logger, env });
  await h.join();
  await askAndHear(h);
  return h;
}

const notices = (harness: AppHarness, channelId = harness.guild.voiceChannelId) =>
  harness.discord.messages(channelId).map((message) => message.versions[0]!.content);

describe("the bot's voice connection, as Discord changes it", () => {
  it("moved by a moderator: the conversation follows to the new channel and is heard there", async () => {
    const harness = await liveConversation();
    const stage = harness.discord.addChannel(harness.guild.id, "Elsewhere");
    harness.discord.setUserVoice(harness.guild.id, harness.userId, stage);
    harness.discord.moveBot(harness.guild.id, stage);
    await waitFor(
      () => harness.app.conversations.status(harness.guild.id)?.channelId === stage,
      "the move",
      10_000,
    );
    await harness.voice.waitForSession(harness.guild.id);
    await askAndHear(harness);
    expect(harness.app.conversations.isActive(harness.guild.id)).toBe(true);
    expect(voiceLiveSessions(harness)).toBe(1);
    const status = await harness.settled(harness.discord.command(harness.guild.id, harness.userId, "status"));
    expect(JSON.stringify(status[0]!.embeds)).toContain(stage);
  }, 60_000);

  it("disconnected by a moderator: the conversation ends with one notice", async () => {
    const harness = await liveConversation();
    harness.discord.disconnectBot(harness.guild.id);
    await waitFor(
      () => !harness.app.conversations.isActive(harness.guild.id),
      "the conversation to end",
      15_000,
    );
    await harness.discord.until(() => notices(harness).length > 0, 5_000, "a notice");
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(notices(harness)).toEqual([
      "Conversation ended: disconnected from voice by Discord (kicked, or the channel was deleted).",
    ]);
    expect(harness.discord.botVoiceChannel(harness.guild.id)).toBeNull();
    await waitFor(() => harness.local.sessions === 0, "the Voice Live session to close", 5_000);
  }, 60_000);

  it("the channel is deleted: the conversation ends and the bot stays up", async () => {
    const harness = await liveConversation();
    harness.discord.deleteChannel(harness.guild.id, harness.guild.voiceChannelId);
    await waitFor(
      () => !harness.app.conversations.isActive(harness.guild.id),
      "the conversation to end",
      15_000,
    );
    await waitFor(() => harness.local.sessions === 0, "the Voice Live session to close", 5_000);
    const status = await harness.settled(harness.discord.command(harness.guild.id, harness.userId, "status"));
    expect(status.map((r) => r.kind)).toEqual(["reply"]);
  }, 60_000);

  it("the bot is removed from the server (GUILD_DELETE): the conversation ends", async () => {
    const harness = await liveConversation();
    harness.discord.removeBot(harness.guild.id);
    await waitFor(
      () => !harness.app.conversations.isActive(harness.guild.id),
      "the conversation to end",
      15_000,
    );
    await waitFor(() => harness.local.sessions === 0, "the Voice Live session to close", 5_000);
  }, 60_000);

  it("the voice server moves mid-answer: the bot reconnects, audio resumes, same Voice Live session", async () => {
    const harness = await liveConversation();
    await heardBy(harness, harness.userId);
    const before = botPackets(harness);
    const speaking = harness.voice.speakAs(harness.guild.id, harness.userId, { opus: QUESTION });
    await waitFor(() => botPackets(harness) > before + 5, "the answer to start", 15_000);
    const sessionsBefore = harness.voice.opLog.filter(
      (entry) => entry.direction === "in" && entry.op === 0,
    ).length;
    harness.discord.moveVoiceServer(harness.guild.id);
    await waitFor(
      () =>
        harness.voice.opLog.filter((entry) => entry.direction === "in" && entry.op === 0).length >
        sessionsBefore,
      "a new voice Identify",
      10_000,
    );
    await speaking;
    await harness.voice.waitForSession(harness.guild.id);
    await askAndHear(harness);
    expect(harness.app.conversations.isActive(harness.guild.id)).toBe(true);
    expect(voiceLiveSessions(harness)).toBe(1);
  }, 60_000);

  it("the last person leaves: the bot leaves after EMPTY_CHANNEL_GRACE_SECONDS, not at once", async () => {
    const harness = await liveConversation({ EMPTY_CHANNEL_GRACE_SECONDS: "1" });
    harness.discord.setUserVoice(harness.guild.id, harness.userId, null);
    expect(harness.app.conversations.isActive(harness.guild.id)).toBe(true);
    await waitFor(() => !harness.app.conversations.isActive(harness.guild.id), "the bot to leave", 10_000);
    await waitFor(() => harness.discord.botVoiceChannel(harness.guild.id) === null, "the voice state", 5_000);
  }, 60_000);

  it("someone comes back within the grace period: the bot stays", async () => {
    const harness = await liveConversation({ EMPTY_CHANNEL_GRACE_SECONDS: "2" });
    harness.discord.setUserVoice(harness.guild.id, harness.userId, null);
    harness.discord.setUserVoice(harness.guild.id, harness.userId, harness.guild.voiceChannelId);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(harness.app.conversations.isActive(harness.guild.id)).toBe(true);
  }, 60_000);
});

describe("who the bot listens to, from Discord's roles", () => {
  it("listen mode role: a member with the role is heard, one without is not", async () => {
    const harness = await AppHarness.start({ logger: captureLogs().logger });
    h = harness;
    const { discord, guild } = harness;
    const speakers = discord.addRole(guild.id, "Speakers", 0n);
    const saved = await harness.settled(
      discord.command(guild.id, guild.ownerId, "persona listen", { mode: "role", role: speakers }),
    );
    expect(saved[0]!.content).toMatch(/^I listen to /);
    // They arrive after the bot connected: their roles reach it with their voice states.
    const member = discord.addMember(guild.id, { username: "speaker", roleIds: [speakers] });
    const outsider = discord.addMember(guild.id, { username: "outsider" });
    discord.setUserVoice(guild.id, member, guild.voiceChannelId);
    discord.setUserVoice(guild.id, outsider, guild.voiceChannelId);
    await harness.join();
    await heardBy(harness, member);
    await heardBy(harness, outsider);
    await harness.voice.speakAs(guild.id, outsider, { opus: QUESTION });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(botPackets(harness)).toBe(0);
    await harness.voice.speakAs(guild.id, member, { opus: QUESTION });
    await waitFor(() => botPackets(harness) > 10, "the answer to the member with the role", 15_000);
  }, 60_000);
});
