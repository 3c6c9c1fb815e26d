import { describe, expect, it } from "vitest";
import { FRAME_SAMPLES_48K_STEREO } from "../../src/audio/constants.ts";
import { sleep, toneFrames, waitFor } from "../sim/voice-test-kit.ts";
import {
  alignedCorrelation,
  atRate,
  decodeBotSpeech,
  fixtureFrames,
  monoOf,
  toneAmplitude,
  untilAnswered,
  useHarness,
} from "./helpers.ts";

/**
 * The two audio paths end to end: a user's speech over RTP/Opus into the real @discordjs/voice
 * client, through the Conversation into the local Voice Live server, and its echoed answer back
 * into the channel as the bot's RTP.
 *
 * Similarity threshold 0.9 (normalised correlation at the best alignment). Measured: 0.995 for the
 * heard 24 kHz audio against the input resampled independently, 0.99 for the echo, which crosses
 * Opus twice and four resamplers. Against that, a different utterance scores 0.03, the same one
 * 20 ms out of step -0.02, and one with every other frame missing 0.70; a single lost or repeated
 * frame mid-speech puts the two halves out of step and costs far more than 0.1.
 */

const TAIL_MS = 500 + 500; // the default persona's silence_duration_ms + 500

describe("one spoken turn", () => {
  const start = useHarness();

  it("Voice Live hears the user, the echo reaches the channel, and appends stop after the tail", async () => {
    const harness = await start();
    const guild = await harness.join();
    const user = await guild.addUser();
    const speech = fixtureFrames("speech-weather-question.wav", 2000);
    await guild.speak(user, { pcm: speech });
    await untilAnswered(guild, 1);
    const appendedWhenAnswered = guild.record.appendedMs;
    await sleep(300);

    const input48k = monoOf(speech);
    const heard = alignedCorrelation(atRate(input48k, 48_000, 24_000), guild.heardPcm(), 24_000);
    expect(heard.correlation).toBeGreaterThan(0.9);

    const echo = alignedCorrelation(input48k, decodeBotSpeech(guild.packets), 48_000);
    expect(echo.correlation).toBeGreaterThan(0.9);
    expect(guild.record.responses.map((r) => r.status)).toEqual(["completed"]);

    // Timing rule 1: the silence tail, exactly, then nothing while the bot answers and after.
    expect(guild.record.msAfterLastSpeech).toBe(TAIL_MS);
    expect(guild.record.appendedMs).toBe(appendedWhenAnswered);
    const appendEvents = guild.record.clientEvents.filter((run) => run.type === "input_audio_buffer.append");
    expect(appendEvents.reduce((n, run) => n + run.count, 0)).toBe(guild.record.appends);
  });

  it("a channel where nobody speaks (or only silence arrives) appends nothing at all", async () => {
    const harness = await start();
    const guild = await harness.join();
    const user = await guild.addUser();
    await sleep(500);
    await guild.speak(user, {
      pcm: Array.from({ length: 25 }, () => new Int16Array(FRAME_SAMPLES_48K_STEREO)),
    });
    await sleep(500);
    expect(guild.record.appends).toBe(0);
    expect(guild.record.clientEvents.map((run) => run.type)).toEqual(["session.update"]);
    expect(harness.local?.clientEvents[0]?.audioMs).toBe(0);
  });
});

describe("two speakers at once", () => {
  const start = useHarness();

  it("are mixed into one stream: both voices in the same frames, one stream's worth of appends", async () => {
    const harness = await start();
    const guild = await harness.join();
    const [alice, bob] = [await guild.addUser(), await guild.addUser()];
    const frames = 75;
    await Promise.all([
      guild.speak(alice, { pcm: toneFrames(400, frames) }),
      guild.speak(bob, { pcm: toneFrames(1250, frames) }),
    ]);
    await waitFor(() => guild.record.msAfterLastSpeech >= TAIL_MS, "the silence tail");

    // 20 ms frames of what was appended while the tones played.
    const speech: Int16Array[] = [];
    for (const append of guild.record.appended.filter((a) => a.speech)) {
      for (let at = 0; at < append.pcm!.length; at += 480) speech.push(append.pcm!.subarray(at, at + 480));
    }
    // Interleaved streams would take 2 x 75 frames. Mixed, they take 75, plus the few frames by
    // which the two paced senders start apart and a catch-up append that carries a tail frame.
    expect(speech.length).toBeLessThanOrEqual(frames + 4);
    expect(speech.length).toBeGreaterThanOrEqual(frames - 5);
    // Away from the edges (where one speaker's first or last frame may be alone), the frames carry
    // both tones at close to their full amplitude (8000). A packet later than the one tick the
    // mixer waits for is mixed on its own by design, so a busy machine may leave a frame or two
    // with one tone; interleaved streams would leave none with both.
    const middle = speech.slice(3, -3);
    const both = middle.filter(
      (frame) => toneAmplitude(frame, 400, 24_000) > 5000 && toneAmplitude(frame, 1250, 24_000) > 5000,
    );
    expect(both.length).toBeGreaterThanOrEqual(middle.length - 2);
    for (const frame of middle) {
      expect(Math.max(toneAmplitude(frame, 400, 24_000), toneAmplitude(frame, 1250, 24_000))).toBeGreaterThan(
        5000,
      );
    }
  });
});
