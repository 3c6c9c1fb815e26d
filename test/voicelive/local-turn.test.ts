/** One spoken turn end to end: VoiceLiveSession against the local Voice Live server. */
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { createInputResampler } from "../../src/audio/resample.ts";
import { readWav } from "../../src/audio/wav.ts";
import { buildSessionConfig } from "../../src/bridge/persona-session.ts";
import { type LocalVoiceLiveServer, startLocalVoiceLiveServer } from "../../src/local/server.ts";
import { createMemoryLogger } from "../../src/log.ts";
import { defaultPersona } from "../../src/persona.ts";
import { ConnectionRateLimiter } from "../../src/voicelive/rate-limiter.ts";
import { VoiceLiveSession } from "../../src/voicelive/session.ts";
import { testAzure, until } from "./fake-service.ts";

let server: LocalVoiceLiveServer | undefined;
let session: VoiceLiveSession | undefined;

afterEach(async () => {
  await session?.close();
  await server?.close();
  session = undefined;
  server = undefined;
});

function speech24k(name: string): Int16Array {
  const wav = readWav(readFileSync(new URL(`../fixtures/${name}`, import.meta.url)));
  expect(wav.sampleRate).toBe(48_000);
  expect(wav.channels).toBe(1);
  return createInputResampler(24_000).process(wav.samples).slice();
}

describe("a spoken turn through the local server", () => {
  it("hears the question, answers with audio and transcripts, and reports the response done", async () => {
    const apiKey = "local-test-key-0f9e8d7c";
    server = await startLocalVoiceLiveServer({ apiKey, reply: "echo", speed: 50 });
    const built = buildSessionConfig({
      // The service answers by itself here: this is the session against the server, without a bridge.
      ...defaultPersona({ instructions: "Be brief.", voice: "alloy" }),
      turnTaking: "service",
    });
    expect(built.ok).toBe(true);
    if (!built.ok) return;
    const memory = createMemoryLogger();
    session = new VoiceLiveSession({
      azure: testAzure(server.url, { apiKey }),
      session: built.config,
      limiter: new ConnectionRateLimiter(100),
      pingIntervalMs: 0,
      logger: memory.logger,
    });
    const seen: string[] = [];
    let startedItem = "";
    let replySamples = 0;
    let transcript = "";
    let status = "";
    session.on("input_audio_buffer.speech_started", (e) => {
      seen.push(e.type);
      startedItem = e.item_id;
    });
    session.on("input_audio_buffer.speech_stopped", (e) => seen.push(e.type));
    session.on("input_audio_buffer.committed", (e) => seen.push(e.type));
    session.on("response.created", (e) => seen.push(e.type));
    session.on("response.audio.delta", (_e, pcm) => {
      replySamples += pcm.length;
    });
    session.on("response.audio_transcript.done", (e) => {
      transcript = e.transcript;
    });
    session.on("response.done", (e) => {
      seen.push(e.type);
      status = e.response.status;
    });

    expect(await session.start()).toMatchObject({ ok: true });
    const speech = speech24k("speech-weather-question.wav");
    const silence = new Int16Array(480);
    for (let i = 0; i + 480 <= speech.length; i += 480) session.appendAudio(speech.subarray(i, i + 480));
    for (let i = 0; i < 75; i++) session.appendAudio(silence);

    await until(() => seen.includes("response.done"), 20_000, "response.done");
    expect(seen).toEqual([
      "input_audio_buffer.speech_started",
      "input_audio_buffer.speech_stopped",
      "input_audio_buffer.committed",
      "response.created",
      "response.done",
    ]);
    expect(startedItem).not.toBe("");
    expect(status).toBe("completed");
    // The echo is the committed speech: seconds of audio, not a click.
    expect(replySamples / 24_000).toBeGreaterThan(3);
    expect(replySamples).toBeLessThanOrEqual(speech.length + 24_000);
    expect(transcript).toMatch(/^\(echo of \d+\.\d s\)$/);
    expect(session.responseActive).toBe(false);
    expect(session.droppedAudioMs).toBe(0);
    expect(memory.lines.join("\n")).not.toContain(apiKey);
  });
});
