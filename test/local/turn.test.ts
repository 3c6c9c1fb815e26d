/** Spoken turns over a real WebSocket: VAD, commit, echo reply, barge-in, formats. */
import { afterEach, describe, expect, it } from "vitest";
import { decodeMuLaw, encodeMuLaw } from "../../src/audio/g711.ts";
import { convertSampleRate } from "../../src/audio/rate-convert.ts";
import { type LocalVoiceLiveServer, startLocalVoiceLiveServer } from "../../src/local/server.ts";
import { base64ToPcm, concatPcm, loadSpeech, peakCorrelation, TestClient } from "./helpers.ts";

const VAD = {
  type: "server_vad",
  threshold: 0.5,
  prefix_padding_ms: 300,
  silence_duration_ms: 500,
  create_response: true,
  interrupt_response: true,
};

let server: LocalVoiceLiveServer | undefined;
let client: TestClient | undefined;

afterEach(async () => {
  await client?.close();
  await server?.close();
  client = undefined;
  server = undefined;
});

async function connect(speed: number, session: Record<string, unknown> = {}): Promise<TestClient> {
  server = await startLocalVoiceLiveServer({ speed });
  client = await TestClient.connect(server.url);
  await client.waitFor("session.created");
  client.send({ type: "session.update", event_id: "cfg", session: { turn_detection: VAD, ...session } });
  await client.waitFor("session.updated");
  return client;
}

/** The response's audio deltas, decoded, in order. */
function responseAudio(c: TestClient, responseId: string): Int16Array {
  return concatPcm(
    c
      .all("response.audio.delta")
      .filter((e) => e.response_id === responseId)
      .map((e) => base64ToPcm(e.delta)),
  );
}

describe("a spoken turn", () => {
  it("detects the question, commits it and echoes exactly the committed speech at 24 kHz", async () => {
    const c = await connect(50, { input_audio_transcription: { model: "gpt-4o-mini-transcribe" } });
    const speech = loadSpeech("speech-weather-question.wav");
    c.appendPcm(speech, 24_000);
    c.appendPcm(new Int16Array(24_000), 24_000); // 1 s of silence ends the turn

    const started = await c.waitFor("input_audio_buffer.speech_started");
    const stopped = await c.waitFor("input_audio_buffer.speech_stopped");
    const committed = await c.waitFor("input_audio_buffer.committed");
    const done = await c.waitFor("response.done");

    // The fixture has 0.3 s of silence before the words and ~0.5 s after them.
    expect(started.audio_start_ms).toBeGreaterThanOrEqual(0);
    expect(started.audio_start_ms).toBeLessThan(300);
    expect(stopped.audio_end_ms).toBeGreaterThan(5000);
    expect(stopped.audio_end_ms).toBeLessThanOrEqual(Math.ceil((speech.length / 24_000) * 1000));
    expect(stopped.item_id).toBe(started.item_id);
    expect(committed.item_id).toBe(started.item_id);

    const userItem = await c.waitFor("conversation.item.created", (e) => e.item?.id === committed.item_id);
    expect(userItem.item).toMatchObject({ type: "message", role: "user", status: "completed" });
    const transcription = await c.waitFor("conversation.item.input_audio_transcription.completed");
    expect(transcription.item_id).toBe(committed.item_id);
    expect(transcription.transcript).toMatch(/^\[local transcript: 5\.\d s of speech\]$/);

    expect(done.response.status).toBe("completed");
    expect(done.response.usage?.output_token_details?.audio_tokens).toBeGreaterThan(90);
    expect(done.response.usage?.input_token_details?.audio_tokens).toBeGreaterThan(45);

    const echoed = responseAudio(c, done.response.id);
    const from = started.audio_start_ms * 24;
    const to = stopped.audio_end_ms * 24;
    expect(echoed.length).toBe(to - from);
    expect(Buffer.from(echoed.buffer).equals(Buffer.from(speech.slice(from, to).buffer))).toBe(true);

    const transcript = await c.waitFor("response.audio_transcript.done");
    expect(transcript.transcript).toMatch(/^\(echo of 5\.\d s\)$/);

    // The response's events arrive in the service's order.
    const sequence = c.events
      .slice(c.events.indexOf(committed))
      .map((e) => e.type)
      .filter((t) => t !== "response.audio.delta" && t !== "response.audio_transcript.delta");
    expect(sequence).toEqual([
      "input_audio_buffer.committed",
      "conversation.item.created",
      "conversation.item.input_audio_transcription.completed",
      "response.created",
      "response.output_item.added",
      "conversation.item.created",
      "response.content_part.added",
      "response.audio.done",
      "response.audio_transcript.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.done",
    ]);
    const chunks = c.all("response.audio.delta").map((e) => base64ToPcm(e.delta).length);
    expect(chunks.slice(0, -1).every((n) => n === 2400)).toBe(true); // 100 ms per delta
  });

  it("accepts 16 kHz pcm16 input and answers at 24 kHz with the same speech", async () => {
    const c = await connect(50, { input_audio_sampling_rate: 16_000 });
    const speech16 = loadSpeech("speech-weather-question.wav", 16_000);
    c.appendPcm(speech16, 16_000);
    c.appendPcm(new Int16Array(16_000), 16_000);
    const started = await c.waitFor("input_audio_buffer.speech_started");
    const stopped = await c.waitFor("input_audio_buffer.speech_stopped");
    const done = await c.waitFor("response.done");

    const echoed = responseAudio(c, done.response.id);
    const expected = loadSpeech("speech-weather-question.wav", 24_000).slice(
      started.audio_start_ms * 24,
      stopped.audio_end_ms * 24,
    );
    expect(Math.abs(echoed.length - expected.length)).toBeLessThanOrEqual(1);
    // The two fixture resamplers (48k -> 16k, 48k -> 24k) differ in filter delay by under 1 ms.
    expect(peakCorrelation(echoed, expected, 24)).toBeGreaterThan(0.97);
  });

  it("takes G.711 mu-law in and sends G.711 mu-law out", async () => {
    const c = await connect(50, { input_audio_format: "g711_ulaw", output_audio_format: "g711_ulaw" });
    const speech8 = convertSampleRate(loadSpeech("speech-weather-question.wav"), 24_000, 8_000);
    const ulaw = new Uint8Array(speech8.length + 8000); // + 1 s of silence (mu-law 0xff)
    encodeMuLaw(concatPcm([speech8, new Int16Array(8000)]), ulaw);
    for (let i = 0; i < ulaw.length; i += 160) {
      c.send({
        type: "input_audio_buffer.append",
        audio: Buffer.from(ulaw.subarray(i, i + 160)).toString("base64"),
      });
    }
    const started = await c.waitFor("input_audio_buffer.speech_started");
    const stopped = await c.waitFor("input_audio_buffer.speech_stopped");
    const done = await c.waitFor("response.done");
    expect(done.response.output_audio_format).toBe("g711_ulaw");

    const out = Buffer.concat(
      c
        .all("response.audio.delta")
        .filter((e) => e.response_id === done.response.id)
        .map((e) => Buffer.from(e.delta, "base64")),
    );
    const expected = ulaw.subarray(started.audio_start_ms * 8, stopped.audio_end_ms * 8);
    expect(out.length).toBe(expected.length);
    // mu-law round-trips its own decoded values exactly: the echo is the caller's bytes.
    expect(out.equals(Buffer.from(expected))).toBe(true);
    const decoded = new Int16Array(out.length);
    decodeMuLaw(out, decoded);
    expect(
      peakCorrelation(decoded, speech8.subarray(started.audio_start_ms * 8, stopped.audio_end_ms * 8), 0),
    ).toBeGreaterThan(0.99);
  });

  it("answers with a tone as long as the speech in tone mode", async () => {
    server = await startLocalVoiceLiveServer({ speed: 50, reply: "tone" });
    client = await TestClient.connect(server.url);
    client.send({ type: "session.update", session: { turn_detection: VAD } });
    client.appendPcm(loadSpeech("speech-weather-question.wav"), 24_000);
    client.appendPcm(new Int16Array(24_000), 24_000);
    const stopped = await client.waitFor("input_audio_buffer.speech_stopped");
    const started = await client.waitFor("input_audio_buffer.speech_started");
    const done = await client.waitFor("response.done");
    const audio = responseAudio(client, done.response.id);
    expect(audio.length).toBe((stopped.audio_end_ms - started.audio_start_ms) * 24);
    // 440 Hz: 880 zero crossings per second.
    let crossings = 0;
    for (let i = 1; i < audio.length; i++) if (audio[i - 1]! < 0 !== audio[i]! < 0) crossings++;
    expect(crossings / (audio.length / 24_000)).toBeCloseTo(880, -1);
  });
});

describe("barge-in", () => {
  it("cancels the response on new speech (turn_detected) and truncates only within the audio sent", async () => {
    const c = await connect(1); // real-time pacing keeps the first reply going while the user speaks again
    c.appendPcm(loadSpeech("speech-weather-question.wav"), 24_000);
    c.appendPcm(new Int16Array(24_000), 24_000);
    const created = await c.waitFor("response.created");
    const responseId = created.response.id;
    await c.waitFor("response.audio.delta", () => c.all("response.audio.delta").length >= 3);

    const interruptFrom = c.events.length;
    c.appendPcm(loadSpeech("speech-interruption.wav"), 24_000);
    c.appendPcm(new Int16Array(24_000), 24_000);
    const bargeIn = await c.waitFor("input_audio_buffer.speech_started", () => true, interruptFrom);
    const done = await c.waitFor("response.done", (e) => e.response.id === responseId);
    expect(c.events.indexOf(bargeIn)).toBeLessThan(c.events.indexOf(done));
    expect(done.response.status).toBe("cancelled");
    expect(done.response.status_details).toMatchObject({ type: "cancelled", reason: "turn_detected" });
    const itemDone = await c.waitFor("response.output_item.done", (e) => e.response_id === responseId);
    expect(itemDone.item?.status).toBe("incomplete");
    const assistantItemId = itemDone.item?.id ?? "";

    const receivedMs = responseAudio(c, responseId).length / 24;
    expect(receivedMs).toBeGreaterThanOrEqual(300);
    expect(receivedMs).toBeLessThan(5000);

    c.send({
      type: "conversation.item.truncate",
      event_id: "t1",
      item_id: assistantItemId,
      content_index: 0,
      audio_end_ms: Math.floor(receivedMs / 2),
    });
    const truncated = await c.waitFor("conversation.item.truncated");
    expect(truncated).toMatchObject({
      item_id: assistantItemId,
      content_index: 0,
      audio_end_ms: Math.floor(receivedMs / 2),
    });

    c.send({
      type: "conversation.item.truncate",
      event_id: "t2",
      item_id: assistantItemId,
      content_index: 0,
      audio_end_ms: Math.ceil(receivedMs) + 1000,
    });
    const error = await c.waitFor("error", (e) => e.error.event_id === "t2");
    expect(error.error.param).toBe("audio_end_ms");

    // The interruption is itself a turn and gets its own response.
    const next = await c.waitFor("response.created", (e) => e.response.id !== responseId);
    c.send({ type: "response.cancel", event_id: "cancel" });
    const nextDone = await c.waitFor("response.done", (e) => e.response.id === next.response.id);
    expect(nextDone.response.status_details).toMatchObject({ reason: "client_cancelled" });
  });

  it("truncates the interrupted item itself when auto_truncate is on", async () => {
    const c = await connect(1, { turn_detection: { ...VAD, auto_truncate: true } });
    c.appendPcm(loadSpeech("speech-weather-question.wav"), 24_000);
    c.appendPcm(new Int16Array(24_000), 24_000);
    const created = await c.waitFor("response.created");
    await c.waitFor("response.audio.delta", () => c.all("response.audio.delta").length >= 3);
    c.appendPcm(loadSpeech("speech-interruption.wav"), 24_000);
    const done = await c.waitFor("response.done", (e) => e.response.id === created.response.id);
    const truncated = await c.waitFor("conversation.item.truncated");
    expect(c.events.indexOf(truncated)).toBeGreaterThan(c.events.indexOf(done));
    expect(truncated.item_id).toBe(done.response.output?.[0]?.id);
    // What the client can have played: never more than it received.
    expect(truncated.audio_end_ms).toBeLessThanOrEqual(responseAudio(c, created.response.id).length / 24);
  });

  it("refuses to truncate an item that is not assistant audio", async () => {
    const c = await connect(50);
    c.send({
      type: "conversation.item.create",
      item: { type: "message", role: "user", content: [{ type: "input_text", text: "hi" }] },
    });
    const created = await c.waitFor("conversation.item.created");
    c.send({
      type: "conversation.item.truncate",
      event_id: "t",
      item_id: created.item?.id,
      content_index: 0,
      audio_end_ms: 0,
    });
    const error = await c.waitFor("error", (e) => e.error.event_id === "t");
    expect(error.error.param).toBe("item_id");
  });
});
