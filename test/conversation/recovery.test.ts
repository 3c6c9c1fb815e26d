import { describe, expect, it } from "vitest";
import { Metrics } from "../../src/metrics/metrics.ts";
import { waitFor } from "../sim/voice-test-kit.ts";
import { fixtureFrames, useHarness } from "./helpers.ts";

/**
 * A Voice Live socket that dies mid-answer: the conversation reconnects on its own, applies the
 * persona to the new session, tells the channel once, and the next turn is answered as usual.
 */

describe("Voice Live drop mid-response", () => {
  const start = useHarness();

  it("reconnects, re-applies the persona, posts one notice and answers the next turn", async () => {
    // Real-time replies: the answer is still streaming when the socket goes.
    const harness = await start({ backend: { kind: "local", speed: 1 } });
    const local = harness.local!;
    const guild = await harness.join();
    const user = await guild.addUser();
    const spokeAt = performance.now();
    await guild.speak(user, { pcm: fixtureFrames("speech-weather-question.wav", 2000) });
    expect(await guild.waitForBotAudio(spokeAt, 10_000)).toBeDefined();
    expect(guild.record.responses).toEqual([]);

    local.terminateAll();
    await waitFor(
      () => guild.status()?.voiceLive === "ready" && local.clientEvents.length === 2,
      "reconnect",
    );
    expect(local.clientEvents[1]!.types[0]).toBe("session.update");
    await waitFor(() => guild.status()?.botSpeaking === false, "the dead answer to be dropped");
    const packetsBefore = guild.record.nonSilentPackets;

    const secondTurnAt = performance.now();
    await guild.speak(user, { pcm: fixtureFrames("speech-meeting-summary.wav", 1500) });
    expect(await guild.waitForBotAudio(secondTurnAt, 10_000)).toBeDefined();
    await waitFor(() => guild.record.responses.length === 1, "the second answer", 10_000);
    expect(guild.record.responses[0]!.status).toBe("completed");
    expect(guild.record.nonSilentPackets).toBeGreaterThan(packetsBefore);
    expect(local.clientEvents[1]!.audioMs).toBeGreaterThan(1000);

    expect(guild.record.notices).toHaveLength(1);
    expect(guild.record.notices[0]).toMatch(/reconnecting/i);
  });
});

describe("audio during a Voice Live outage", () => {
  const start = useHarness();

  it("is dropped, not queued, and counted in the dropped-frames metric", async () => {
    const metrics = new Metrics();
    const harness = await start({ metrics });
    const local = harness.local!;
    const guild = await harness.join();
    const user = await guild.addUser();
    const speaking = guild.speak(user, { pcm: fixtureFrames("speech-weather-question.wav", 3000) });
    await waitFor(() => guild.record.appends > 25, "half a second of appends");
    local.terminateAll();
    await speaking;
    await waitFor(() => guild.status()?.voiceLive === "ready", "the reconnect");
    await guild.leave("test over");

    const sent = local.clientEvents.reduce((sum, session) => sum + session.audioMs, 0);
    const dropped = (await metrics.droppedFrames.get()).values.find(
      (value) => value.labels.stage === "voicelive_send",
    )?.value;
    // Whatever the outage swallowed is gone for good (not replayed to the new session) and counted.
    expect(dropped).toBeGreaterThan(0);
    expect(sent + (dropped ?? 0) * 20).toBeLessThanOrEqual(guild.record.appendedMs + 40);
  });
});
