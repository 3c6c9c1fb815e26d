import { describe, expect, it } from "vitest";
import { defaultPersona } from "../../src/persona.ts";
import { bargeInFigures } from "../../src/sim/harness.ts";
import { waitFor } from "../sim/voice-test-kit.ts";
import { fixtureFrames, useHarness } from "./helpers.ts";

/**
 * Captions through the real path with a recording CaptionSink: one message per turn, the user's
 * transcript (the local server's placeholder) attributed to whoever spoke, then the bot's; and
 * when the bot is talked over, its line is marked interrupted and cut to what was heard.
 */

describe("captions", () => {
  const start = useHarness();

  it("post the turn, then mark the bot's answer interrupted and cut when someone talks over it", async () => {
    const harness = await start();
    const guild = await harness.join({ captions: true });
    const alice = await guild.addUser();
    const bob = await guild.addUser();
    await guild.speak(alice, { pcm: fixtureFrames("speech-weather-question.wav", 2500) });
    // The answer has been generated in full (replies stream 4x faster than real time) and is
    // still playing when Bob starts talking.
    await waitFor(() => guild.record.responses.length === 1, "the answer", 10_000);
    expect(guild.status()?.botSpeaking).toBe(true);
    void guild.speak(bob, { pcm: fixtureFrames("speech-interruption.wav", 1500) });
    await waitFor(() => guild.record.bargeIns[0]?.capturedBefore !== undefined, "a barge-in", 10_000);

    const cut = bargeInFigures(guild.record.bargeIns[0]!, guild.playedFrames())!;
    expect(cut.responseCancelSent).toBe(false);
    expect(cut.truncateAudioEndMs).toBeLessThan(cut.receivedMsAtCut);

    const message = (): string[] => guild.record.captions[0]?.texts ?? [];
    await waitFor(() => message().at(-1)?.includes("_(interrupted)_") === true, "the interrupted caption");
    const [userLine, botLine, ...rest] = message().at(-1)!.split("\n");
    expect(rest).toEqual([]);
    expect(userLine).toMatch(
      new RegExp(`^\\*\\*<@${alice}>:\\*\\* \\[local transcript: \\d+\\.\\d s of speech\\]$`),
    );
    expect(message()[0]).toBe(userLine);
    const full = /^\(echo of \d+\.\d s\)$/;
    const said = botLine!.replace(/^\*\*Voicelive:\*\* _\(interrupted\)_ /, "");
    expect(said).not.toBe(botLine);
    expect(said).not.toMatch(full);
    expect(said.endsWith("…")).toBe(true);
    // A strict prefix of the whole answer's transcript, "(echo of N.N s)".
    expect("(echo of X.X s)".startsWith(said.slice(0, -1).replace(/\d/g, "X"))).toBe(true);
  });

  it("with word timestamps (an Azure voice), cut the interrupted answer at the last word played", async () => {
    const harness = await start();
    const persona = {
      ...defaultPersona({ instructions: "You are a test voice.", voice: "en-US-AvaNeural" }),
    };
    const guild = await harness.join({ captions: true, persona });
    const alice = await guild.addUser();
    const bob = await guild.addUser();
    await guild.speak(alice, { pcm: fixtureFrames("speech-weather-question.wav", 2500) });
    await waitFor(() => guild.record.responses.length === 1, "the answer", 10_000);
    void guild.speak(bob, { pcm: fixtureFrames("speech-interruption.wav", 1500) });
    await waitFor(() => guild.record.bargeIns[0]?.capturedBefore !== undefined, "a barge-in", 10_000);
    const playedMs = guild.record.bargeIns[0]!.playedMs;

    const message = (): string[] => guild.record.captions[0]?.texts ?? [];
    await waitFor(() => message().at(-1)?.includes("_(interrupted)_") === true, "the interrupted caption");
    const said = message()
      .at(-1)!
      .split("\n")[1]!
      .replace(/^\*\*Voicelive:\*\* _\(interrupted\)_ /, "");
    // The words whose audio ended by the played position, by the timestamps the server sent.
    const words = harness
      .local!.wordTimestampsSent()
      .filter((word) => word.item_id === guild.record.bargeIns[0]!.itemId);
    expect(words.length).toBeGreaterThan(1);
    const heard = words.filter((word) => word.audio_offset_ms + word.audio_duration_ms <= playedMs);
    expect(heard.length).toBeLessThan(words.length);
    expect(said).toBe(heard.length === 0 ? "" : `${heard.map((word) => word.text).join(" ")}…`);
  });
});
