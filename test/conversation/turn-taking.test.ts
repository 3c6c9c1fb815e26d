import { describe, expect, it } from "vitest";
import { defaultPersona, type Persona } from "../../src/persona.ts";
import type { SimGuild, SimHarness } from "../../src/sim/harness.ts";
import { coughBurst } from "../../src/sim/synthetic-speech.ts";
import { sleep, waitFor } from "../sim/voice-test-kit.ts";
import { fixtureFrames, untilAnswered, useHarness } from "./helpers.ts";

/**
 * Smart turn-taking and the wake name over the real path (loopback Discord and the local Voice
 * Live server, whose transcripts the tests script): what the channel hears when someone coughs,
 * says "mm-hmm" or "wait" over the bot, and which turns of a group the bot answers.
 */

const PERSONA: Persona = defaultPersona({ instructions: "You are a test voice.", voice: "alloy" });

/** A short stretch of real speech (mid-sentence, so loud from its first frame). */
function shortSpeech(ms: number): Int16Array[] {
  return fixtureFrames("speech-interruption.wav").slice(16, 16 + ms / 20);
}

/** Alice asks a question; resolves when the bot's answer has been heard for `intoAnswerMs`. */
async function answerUnderWay(guild: SimGuild, alice: string, intoAnswerMs: number): Promise<void> {
  const spokeAt = performance.now();
  await guild.speak(alice, { pcm: fixtureFrames("speech-weather-question.wav", 3000) });
  const firstAudio = await guild.waitForBotAudio(spokeAt, 10_000);
  expect(firstAudio).toBeDefined();
  await sleep(firstAudio! + intoAnswerMs - performance.now());
}

/** Bot frames handed to the player between two moments. */
function framesBetween(guild: SimGuild, from: number, to: number): number {
  return guild.record.handed.filter((frame) => frame.at > from && frame.at < to).length;
}

function local(harness: SimHarness) {
  const server = harness.local;
  if (server === undefined) throw new Error("the local backend was expected");
  return server;
}

describe("smart turn-taking", () => {
  const start = useHarness();

  it("pauses for a cough over the answer, then plays the rest of it: nothing cut, nothing lost", async () => {
    const harness = await start({ backend: { kind: "local", speed: 1.5 } });
    const guild = await harness.join({ persona: PERSONA });
    const alice = await guild.addUser();
    const bob = await guild.addUser();
    await answerUnderWay(guild, alice, 500);
    // Recognition finds no words in a cough.
    local(harness).transcribeNext("");
    await guild.speak(bob, { pcm: coughBurst(300, 7) });
    await waitFor(() => guild.record.resumes.length > 0, "the answer to resume");
    await untilAnswered(guild, 1);

    const record = guild.record;
    expect(record.pauses).toHaveLength(1);
    const resume = record.resumes[0]!;
    expect(resume.pausedAt).toBe(record.pauses[0]);
    // Silent while held: at most the one frame already prepared left after the pause.
    expect(framesBetween(guild, resume.pausedAt, resume.at)).toBeLessThanOrEqual(1);
    expect(record.bargeIns).toEqual([]);
    expect(record.truncations).toEqual([]);
    expect(record.responses.map((r) => r.status)).toEqual(["completed"]);
    // Every frame of the answer reached the channel: the one response, whole.
    const answer = record.handed.filter((frame) => frame.responseId === record.handed[0]!.responseId);
    expect(answer.length).toBe(record.handed.length);
    // The local server echoes the committed question: its 3 s less what the VAD trims at the ends.
    expect(answer.length * 20).toBeGreaterThanOrEqual(2500);
    // The cough is in the conversation as a user turn, but nobody asked for an answer to it.
    expect(record.responseRequests).toHaveLength(1);
  });

  it("goes on after a backchannel, and stops for a short word that is not one", async () => {
    const harness = await start({ backend: { kind: "local", speed: 1 } });
    const guild = await harness.join({ persona: PERSONA });
    const alice = await guild.addUser();
    const bob = await guild.addUser();
    const server = local(harness);
    await answerUnderWay(guild, alice, 400);
    server.transcribeNext("Mm-hmm.");
    await guild.speak(bob, { pcm: shortSpeech(300) });
    await waitFor(() => guild.record.resumes.length === 1, "the answer to resume after mm-hmm");
    // The transcript of the backchannel arrives after the local VAD's silence: still no cut.
    await waitFor(
      () => server.conversationItems().some((item) => JSON.stringify(item).includes("Mm-hmm.")),
      "the backchannel's transcript",
    );
    await sleep(100);
    expect(guild.record.bargeIns).toEqual([]);

    server.transcribeNext("Wait, what about tomorrow?");
    await guild.speak(bob, { pcm: shortSpeech(300) });
    await waitFor(() => guild.record.truncations.length === 1, "the answer to be cut at the words");
    await untilAnswered(guild, 2);
    const record = guild.record;
    expect(record.pauses).toHaveLength(2);
    expect(record.bargeIns).toHaveLength(1);
    // Truncated to what the channel heard, and the question after "wait" gets its own answer.
    const cut = record.bargeIns[0]!;
    expect(record.truncations[0]!.audioEndMs).toBe(cut.truncateAudioEndMs);
    expect(cut.truncateAudioEndMs).toBeLessThan(cut.receivedMs);
    expect(record.responseRequests).toHaveLength(2);
    expect(record.responses.map((r) => r.status)).toEqual(["cancelled", "completed"]);
  });

  it("with turn_taking service, a cough cuts the answer for good, as before", async () => {
    const harness = await start({ backend: { kind: "local", speed: 1.5 } });
    const guild = await harness.join({ persona: { ...PERSONA, turnTaking: "service" } });
    const alice = await guild.addUser();
    const bob = await guild.addUser();
    await answerUnderWay(guild, alice, 500);
    await guild.speak(bob, { pcm: coughBurst(300, 9) });
    await waitFor(() => guild.record.truncations.length === 1, "the cut");
    expect(guild.record.pauses).toEqual([]);
    expect(guild.record.resumes).toEqual([]);
    expect(guild.record.responseRequests).toEqual([]);
  });
});

describe("wake name in a group", () => {
  const start = useHarness();

  it("leaves turns without its name unanswered, and answers the last one when called by name", async () => {
    const harness = await start({ backend: { kind: "local", speed: 4 } });
    const guild = await harness.join({ persona: { ...PERSONA, wakeMode: "group" } });
    const alice = await guild.addUser();
    const bob = await guild.addUser();
    const server = local(harness);

    server.transcribeNext("What is the weather like in Lima?");
    const spokeAt = performance.now();
    await guild.speak(alice, { pcm: fixtureFrames("speech-weather-question.wav", 3000) });
    await waitFor(() => guild.record.ignoredTurns.length === 1, "the turn to be left unanswered");
    expect(await guild.waitForBotAudio(spokeAt, 1500)).toBeUndefined();
    expect(guild.record.responseRequests).toEqual([]);
    // Still in the conversation, as context.
    expect(JSON.stringify(server.conversationItems())).toContain("weather like in Lima");

    server.transcribeNext("Voicelive?");
    await guild.speak(bob, { pcm: shortSpeech(600) });
    await untilAnswered(guild, 1);
    const items = JSON.stringify(server.conversationItems());
    expect(items).toContain("answer what was said to you before that");
    expect(guild.record.responseRequests).toHaveLength(1);
    expect(guild.record.ignoredTurns).toHaveLength(1);

    // Right after the bot spoke, a follow-up needs no name.
    server.transcribeNext("And tomorrow?");
    await guild.speak(alice, { pcm: shortSpeech(600) });
    await untilAnswered(guild, 2);
    expect(guild.record.ignoredTurns).toHaveLength(1);
  });
});
