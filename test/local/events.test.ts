/** Client events and their answers: session.update, manual turns, items, responses, bad input. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type LocalVoiceLiveServer, startLocalVoiceLiveServer } from "../../src/local/server.ts";
import { base64ToPcm, loadSpeech, pcmToBase64, TestClient } from "./helpers.ts";

let server: LocalVoiceLiveServer;
let client: TestClient;

beforeEach(async () => {
  server = await startLocalVoiceLiveServer({ speed: 100 });
  client = await TestClient.connect(server.url);
  await client.waitFor("session.created");
});

afterEach(async () => {
  await client.close();
  await server.close();
});

describe("session.created and session.update", () => {
  it("reports the effective defaults", () => {
    const created = client.all("session.created")[0]!;
    expect(created.session).toMatchObject({
      object: "realtime.session",
      model: "gpt-realtime",
      modalities: ["text", "audio"],
      input_audio_format: "pcm16",
      input_audio_sampling_rate: 24000,
      output_audio_format: "pcm16",
      turn_detection: {
        type: "server_vad",
        threshold: 0.5,
        prefix_padding_ms: 300,
        silence_duration_ms: 500,
      },
      input_audio_transcription: null,
    });
    expect(created.event_id).toMatch(/^event_/);
  });

  it("rejects an invalid value naming the param and the client's event_id, and changes nothing", async () => {
    client.send({
      type: "session.update",
      event_id: "bad-1",
      session: { instructions: "changed?", turn_detection: { type: "server_vad", threshold: 1.5 } },
    });
    const error = await client.waitFor("error");
    expect(error.error).toMatchObject({
      type: "invalid_request_error",
      param: "session.turn_detection.threshold",
      event_id: "bad-1",
    });
    client.send({ type: "session.update", event_id: "ok", session: { voice: "alloy" } });
    const updated = await client.waitFor("session.updated");
    expect(updated.session.instructions).toBe("");
    expect(updated.session.voice).toBe("alloy");
    expect(updated.session.turn_detection).toMatchObject({ threshold: 0.5 });
  });

  it("merges partially, and null disables turn detection", async () => {
    client.send({ type: "session.update", session: { instructions: "Be brief." } });
    const first = await client.waitFor("session.updated");
    client.send({
      type: "session.update",
      session: { turn_detection: null, output_audio_format: "pcm16_16000hz" },
    });
    const second = await client.waitFor("session.updated", (e) => e !== first);
    expect(second.session).toMatchObject({
      instructions: "Be brief.",
      turn_detection: null,
      output_audio_format: "pcm16_16000hz",
    });
  });

  it("closes with 1008 after five failed session.updates, as the service does", async () => {
    for (let i = 0; i < 5; i++)
      client.send({ type: "session.update", session: { input_audio_format: "mp3" } });
    const closed = await client.closed;
    expect(closed.code).toBe(1008);
    expect(client.all("error")).toHaveLength(5);
  });
});

describe("robustness", () => {
  it("answers unknown events and invalid JSON with an error and stays connected", async () => {
    client.send({ type: "no.such.event", event_id: "u1" });
    const unknown = await client.waitFor("error");
    expect(unknown.error).toMatchObject({ code: "unknown_event", event_id: "u1" });
    client.ws.send("{not json");
    const invalid = await client.waitFor("error", (e) => e.error.code === "invalid_json");
    expect(invalid.error.message).toMatch(/not valid JSON/);
    client.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    await client.waitFor("error", (e) => e.error.code === "invalid_event");
    client.send({ type: "input_audio_buffer.append", event_id: "a1", audio: "***" });
    const badAudio = await client.waitFor("error", (e) => e.error.event_id === "a1");
    expect(badAudio.error.param).toBe("audio");
    client.send({ type: "input_audio_buffer.clear" });
    await client.waitFor("input_audio_buffer.cleared");
    expect(server.sessions).toBe(1);
  });
});

describe("manual turns", () => {
  beforeEach(async () => {
    client.send({ type: "session.update", session: { turn_detection: null } });
    await client.waitFor("session.updated");
  });

  it("refuses to commit an empty buffer", async () => {
    client.send({ type: "input_audio_buffer.commit", event_id: "c0" });
    const error = await client.waitFor("error");
    expect(error.error).toMatchObject({ code: "input_audio_buffer_commit_empty", event_id: "c0" });
  });

  it("commits appended audio without responding, then responds on response.create", async () => {
    const speech = loadSpeech("speech-meeting-summary.wav");
    client.appendPcm(speech, 24_000);
    client.send({ type: "input_audio_buffer.commit" });
    const committed = await client.waitFor("input_audio_buffer.committed");
    const item = await client.waitFor("conversation.item.created");
    expect(item.item?.id).toBe(committed.item_id);
    expect(client.all("input_audio_buffer.speech_started")).toHaveLength(0);
    expect(client.all("response.created")).toHaveLength(0);

    client.send({ type: "response.cancel", event_id: "idle" });
    const notActive = await client.waitFor("error");
    expect(notActive.error).toMatchObject({ code: "response_cancel_not_active", event_id: "idle" });

    client.send({ type: "response.create" });
    const done = await client.waitFor("response.done");
    expect(done.response.status).toBe("completed");
    const samples = client.all("response.audio.delta").reduce((n, e) => n + base64ToPcm(e.delta).length, 0);
    expect(samples).toBe(speech.length);
  });

  it("stops at max_output_tokens with status incomplete", async () => {
    client.send({
      type: "input_audio_buffer.append",
      audio: pcmToBase64(loadSpeech("speech-meeting-summary.wav")),
    });
    client.send({ type: "response.create", response: { max_output_tokens: 20 } }); // ~20 audio tokens per second
    const done = await client.waitFor("response.done");
    expect(done.response).toMatchObject({
      status: "incomplete",
      status_details: { type: "incomplete", reason: "max_output_tokens" },
    });
    const samples = client.all("response.audio.delta").reduce((n, e) => n + base64ToPcm(e.delta).length, 0);
    expect(samples).toBe(24_000);
  });

  it("cancels a response on response.cancel with client_cancelled", async () => {
    await server.close();
    server = await startLocalVoiceLiveServer({ speed: 1 });
    client = await TestClient.connect(server.url);
    client.send({ type: "session.update", session: { turn_detection: null } });
    client.send({
      type: "input_audio_buffer.append",
      audio: pcmToBase64(loadSpeech("speech-meeting-summary.wav")),
    });
    client.send({ type: "response.create" }); // commits the buffer first (commit defaults to true)
    await client.waitFor("input_audio_buffer.committed");
    const created = await client.waitFor("response.created");
    client.send({ type: "response.cancel" });
    const done = await client.waitFor("response.done");
    expect(done.response.id).toBe(created.response.id);
    expect(done.response).toMatchObject({
      status: "cancelled",
      status_details: { type: "cancelled", reason: "client_cancelled" },
    });
    expect(done.response.output?.[0]?.status).toBe("incomplete");
  });
});

describe("conversation items", () => {
  it("stores text items, rejects unknown previous_item_id, and answers the last user message", async () => {
    client.send({
      type: "conversation.item.create",
      event_id: "p",
      previous_item_id: "item_nope",
      item: { type: "message", role: "user", content: [{ type: "input_text", text: "x" }] },
    });
    const error = await client.waitFor("error");
    expect(error.error).toMatchObject({ param: "previous_item_id", event_id: "p" });

    client.send({
      type: "conversation.item.create",
      item: {
        id: "mine",
        type: "message",
        role: "user",
        content: [{ type: "input_text", text: "What time is it?" }],
      },
    });
    const created = await client.waitFor("conversation.item.created");
    expect(created.item).toMatchObject({
      id: "mine",
      object: "realtime.item",
      status: "completed",
      role: "user",
    });
    expect(created.previous_item_id).toBeNull();

    client.send({
      type: "conversation.item.create",
      event_id: "a",
      item: { type: "message", role: "assistant", content: [{ type: "audio", audio: "AAAA" }] },
    });
    const assistantAudio = await client.waitFor("error", (e) => e.error.event_id === "a");
    expect(assistantAudio.error.param).toBe("item.content[0].type");

    client.send({ type: "response.create", response: { modalities: ["text"] } });
    const done = await client.waitFor("response.done");
    expect(done.response.output?.[0]).toMatchObject({
      content: [{ type: "text", text: "(local reply to: What time is it?)" }],
    });
    expect(client.all("response.audio.delta")).toHaveLength(0);
    expect(
      client
        .all("response.text.delta")
        .map((e) => e.delta)
        .join(""),
    ).toBe("(local reply to: What time is it?)");

    client.send({ type: "conversation.item.retrieve", item_id: "mine" });
    expect((await client.waitFor("conversation.item.retrieved")).item.id).toBe("mine");
    client.send({ type: "conversation.item.delete", item_id: "mine" });
    await client.waitFor("conversation.item.deleted");
    client.send({ type: "conversation.item.delete", event_id: "d", item_id: "mine" });
    expect((await client.waitFor("error", (e) => e.error.event_id === "d")).error.code).toBe(
      "item_not_found",
    );
  });

  it("speaks a pre-generated assistant message verbatim", async () => {
    client.send({
      type: "response.create",
      response: {
        pre_generated_assistant_message: {
          type: "message",
          role: "assistant",
          content: [{ type: "text", text: "Hello there!" }],
        },
      },
    });
    const transcript = await client.waitFor("response.audio_transcript.done");
    expect(transcript.transcript).toBe("Hello there!");
    expect(client.all("response.audio.delta").length).toBeGreaterThan(0);
  });

  it("sends word timestamps along with the audio when the session asks for them", async () => {
    client.send({
      type: "session.update",
      session: {
        voice: { type: "azure-standard", name: "en-US-AvaNeural" },
        output_audio_timestamp_types: ["word"],
      },
    });
    await client.waitFor("session.updated");
    client.send({
      type: "response.create",
      response: {
        pre_generated_assistant_message: {
          type: "message",
          role: "assistant",
          content: [{ type: "text", text: "Rain is likely after lunch." }],
        },
      },
    });
    await client.waitFor("response.done");
    const words = client.all("response.audio_timestamp.delta");
    const audioMs =
      client
        .all("response.audio.delta")
        .reduce((sum, delta) => sum + base64ToPcm(delta.delta as string).length, 0) / 24;
    expect(words.map((word) => word.text)).toEqual(["Rain", "is", "likely", "after", "lunch."]);
    // In order, one after another, covering the audio.
    for (let k = 1; k < words.length; k++) {
      expect(words[k]!.audio_offset_ms).toBe(words[k - 1]!.audio_offset_ms + words[k - 1]!.audio_duration_ms);
    }
    const last = words.at(-1)!;
    expect(Math.abs(last.audio_offset_ms + last.audio_duration_ms - audioMs)).toBeLessThanOrEqual(2);
  });

  it("sends no word timestamps unless asked", async () => {
    client.send({ type: "response.create" });
    await client.waitFor("response.done");
    expect(client.all("response.audio_timestamp.delta")).toEqual([]);
  });

  it("refuses a second response with cancel_previous false and replaces it otherwise", async () => {
    await server.close();
    server = await startLocalVoiceLiveServer({ speed: 1 });
    client = await TestClient.connect(server.url);
    client.send({ type: "response.create" });
    const first = await client.waitFor("response.created");
    client.send({ type: "response.create", event_id: "second", response: { cancel_previous: false } });
    const refused = await client.waitFor("error");
    expect(refused.error).toMatchObject({
      code: "conversation_already_has_active_response",
      event_id: "second",
    });
    client.send({ type: "response.create" });
    const firstDone = await client.waitFor("response.done");
    expect(firstDone.response).toMatchObject({ id: first.response.id, status: "cancelled" });
    const second = await client.waitFor("response.created", (e) => e.response.id !== first.response.id);
    client.send({ type: "response.cancel", response_id: second.response.id });
    await client.waitFor("response.done", (e) => e.response.id === second.response.id);
  });
});
