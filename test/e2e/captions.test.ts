import { afterEach, describe, expect, it } from "vitest";
import { AppHarness } from "../../src/sim/app-harness.ts";
import { waitFor } from "../sim/voice-test-kit.ts";
import { askAndHear } from "./helpers.ts";
import { captureLogs } from "./logs.ts";

/** Captions and notices are Discord messages in the right channel, paced as the README says. */

/** CaptionWriter's documented minimum spacing between caption posts and edits of one conversation. */
const CAPTION_SPACING_MS = 1_100;

let h: AppHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe("captions and notices in the text channel", () => {
  it("one caption message per turn in the chosen channel, posts and edits at least 1.1 s apart", async () => {
    const harness = await AppHarness.start({ logger: captureLogs().logger });
    h = harness;
    const on = await harness.settled(
      harness.discord.command(harness.guild.id, harness.guild.ownerId, "captions on", {
        channel: harness.guild.textChannelId,
      }),
    );
    expect(on[0]!.content).toMatch(/^Captions are on/);
    await harness.join();
    await askAndHear(harness);
    await askAndHear(harness);
    const captions = () => harness.discord.messages(harness.guild.textChannelId);
    await waitFor(() => captions().length >= 2, "two caption messages", 15_000);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const messages = captions();
    expect(messages.length).toBeGreaterThanOrEqual(2);
    for (const message of messages) {
      expect(message.versions.at(-1)!.content.length).toBeGreaterThan(0);
      expect(message.versions.at(-1)!.content.length).toBeLessThanOrEqual(2_000);
    }
    const calls = messages
      .flatMap((message) => message.versions.map((version) => version.at))
      .sort((a, b) => a - b);
    for (let i = 1; i < calls.length; i++)
      expect(calls[i]! - calls[i - 1]!).toBeGreaterThanOrEqual(CAPTION_SPACING_MS - 50);
    expect(harness.discord.messages(harness.guild.voiceChannelId)).toEqual([]);
    console.info(
      `captions: ${messages.length} messages, ${calls.length - messages.length} edits; first: ${JSON.stringify(messages[0]!.versions.map((v) => v.content))}`,
    );
  }, 60_000);

  it("a notice lands in the voice channel's chat: leaving after the idle timeout", async () => {
    const harness = await AppHarness.start({
      logger: captureLogs().logger,
      env: { IDLE_TIMEOUT_SECONDS: "10" },
    });
    h = harness;
    await harness.join();
    await waitFor(() => !harness.app.conversations.isActive(harness.guild.id), "the idle leave", 20_000);
    await harness.discord.until(
      () => harness.discord.messages(harness.guild.voiceChannelId).length > 0,
      5_000,
      "the notice",
    );
    expect(harness.discord.messages(harness.guild.voiceChannelId).map((m) => m.versions[0]!.content)).toEqual(
      ["Leaving: nobody has spoken for a while."],
    );
  }, 60_000);
});
