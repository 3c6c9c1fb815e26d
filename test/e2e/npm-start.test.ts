import { afterEach, describe, expect, it } from "vitest";
import { encodeOpusStream } from "../../src/audio/opus-stream.ts";
import { speechFrames, waitFor } from "../sim/voice-test-kit.ts";
import { type BotProcess, logMessages, startBotProcess } from "./bot-process.ts";

/** `npm start` itself, in its own process, against a loopback Discord it knows only by DISCORD_API_URL. */

let bot: BotProcess | undefined;
afterEach(async () => {
  await bot?.close();
  bot = undefined;
});

describe("npm start against a loopback Discord", () => {
  it("a rejected token: exit 1 within 10 s, one line naming DISCORD_TOKEN, no stack trace", async () => {
    bot = await startBotProcess({ DISCORD_TOKEN: "MTIz.not-the-token.at-all" });
    const started = performance.now();
    const exit = await bot.exited;
    expect(exit.code).toBe(1);
    expect(exit.at - started).toBeLessThan(10_000);
    const lines = bot.stderr().trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^DISCORD_TOKEN was rejected by Discord/);
    expect(bot.stderr() + bot.stdout()).not.toMatch(/^\s+at /m);
    expect(bot.stderr() + bot.stdout()).not.toContain("not-the-token");
  }, 30_000);

  it("every command gets one answer and no stray error; a conversation is heard; SIGTERM leaves and exits 0", async () => {
    const b = await startBotProcess();
    bot = b;
    await b.ready();
    const { discord, guild } = b;
    const owner = guild.ownerId;
    const answered = async (
      userId: string,
      command: string,
      values: Record<string, string | number> = {},
      count = 1,
    ) => {
      const record = discord.command(guild.id, userId, command, values);
      await discord.waitForResponses(record, count);
      await new Promise((resolve) => setTimeout(resolve, 500));
      return record.responses.map(
        (response) => `${response.kind}${response.ephemeral ? " (ephemeral)" : ""}`,
      );
    };
    expect(await answered(b.userId, "status")).toEqual(["reply (ephemeral)"]);
    expect(await answered(owner, "persona show")).toEqual(["reply (ephemeral)"]);
    expect(await answered(owner, "persona set", { voice: "echo" })).toEqual(["reply (ephemeral)"]);
    expect(await answered(b.userId, "leave")).toEqual(["reply (ephemeral)"]);

    discord.setUserVoice(guild.id, b.userId, guild.voiceChannelId);
    expect(await answered(b.userId, "join", {}, 2)).toEqual(["defer", "edit-original"]);
    await b.voice.waitForSession(guild.id);
    await waitFor(() => b.voice.daveSettled(guild.id, b.userId), "the member in the DAVE group", 10_000);
    const heard = () => b.voice.botAudio(guild.id).filter((packet) => !packet.isSilence).length;
    const speaking = b.voice.speakAs(guild.id, b.userId, {
      opus: encodeOpusStream(speechFrames("speech-weather-question.wav", 150)),
    });
    await waitFor(() => heard() > 10, "the bot's echo", 20_000);
    await speaking;

    const signalled = performance.now();
    b.child.kill("SIGTERM");
    const exit = await b.exited;
    expect(exit.code, b.stderr()).toBe(0);
    expect(exit.at - signalled).toBeLessThan(5_000);
    expect(discord.botVoiceChannel(guild.id)).toBeNull();
    const logged = logMessages(b.stdout());
    expect(logged).toEqual(expect.arrayContaining(["shutting down", "conversation ending", "shut down"]));
    expect(logged).not.toContain("handler finished without answering");
    expect(logged.filter((msg) => /uncaught|unhandled|failed|took too long/i.test(msg))).toEqual([]);
    expect(
      discord.interactions
        .flatMap((record) => record.responses)
        .some((r) => r.content?.startsWith("Something went wrong")),
    ).toBe(false);
  }, 90_000);
});
