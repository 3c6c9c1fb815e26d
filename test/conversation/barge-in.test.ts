import { describe, expect, it } from "vitest";
import { bargeInFigures } from "../../src/sim/harness.ts";
import { sleep, waitFor } from "../sim/voice-test-kit.ts";
import { fixtureFrames, useHarness } from "./helpers.ts";

/**
 * Barge-in over the real path: a second user talks over the bot; the local server's
 * VAD reports speech_started, and the bot must go quiet within one frame and tell the service how
 * much of its answer the channel heard.
 */

describe("barge-in", () => {
  const start = useHarness();

  it("stops the bot within one frame, cancels the response and truncates to what was played", async () => {
    // Replies stream at 1.5x real time, so the response is still being generated when the cut comes.
    const harness = await start({ backend: { kind: "local", speed: 1.5 } });
    const guild = await harness.join();
    const alice = await guild.addUser();
    const bob = await guild.addUser();
    const spokeAt = performance.now();
    await guild.speak(alice, { pcm: fixtureFrames("speech-weather-question.wav", 3000) });
    const firstAudio = await guild.waitForBotAudio(spokeAt, 10_000);
    expect(firstAudio).toBeDefined();
    await sleep(firstAudio! + 400 - performance.now());
    void guild.speak(bob, { pcm: fixtureFrames("speech-interruption.wav", 1500) });
    await waitFor(() => guild.record.bargeIns[0]?.capturedBefore !== undefined, "a barge-in", 10_000);
    await waitFor(() => guild.record.truncations.length > 0, "the truncation to be confirmed");
    await sleep(200);

    const cut = guild.record.bargeIns[0]!;
    const played = guild.playedFrames();
    const figures = bargeInFigures(cut, played)!;
    expect(figures.botFramesAfterSpeechStarted).toBeLessThanOrEqual(1);
    expect(guild.record.bargeIns).toHaveLength(1);

    expect(figures.responseCancelSent).toBe(true);
    expect(guild.record.responses[0]?.status).toBe("cancelled");

    // The local server's view of the truncation: what the channel heard of the item, to the frame.
    const truncation = guild.record.truncations[0]!;
    expect(truncation.itemId).toBe(cut.itemId);
    expect(truncation.audioEndMs).toBe(cut.truncateAudioEndMs);
    const framesPlayed = played.filter((frame) => frame.itemId === cut.itemId).length;
    expect(framesPlayed).toBeGreaterThan(10);
    expect(Math.abs(truncation.audioEndMs - framesPlayed * 20)).toBeLessThanOrEqual(20);
    expect(truncation.audioEndMs).toBeLessThanOrEqual(cut.receivedMs);
    expect(cut.receivedMs).toBeGreaterThan(truncation.audioEndMs + 100);
  });
});
