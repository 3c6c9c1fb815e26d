import { afterEach, describe, expect, it } from "vitest";
import { createMemoryLogger } from "../../src/log.ts";
import { createAuth } from "../../src/voicelive/auth.ts";
import { VoiceLiveClient } from "../../src/voicelive/client.ts";
import { classifyProblem, type Verdict } from "../../src/voicelive/failure.ts";
import type { ResponseAudioDeltaEvent, ServerEvent } from "../../src/voicelive/protocol.ts";
import { buildVoiceLiveUrl } from "../../src/voicelive/url.ts";
import { type FakeService, startFakeService, testAzure, until } from "./fake-service.ts";

let service: FakeService | undefined;
const clients: VoiceLiveClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await service?.close();
  service = undefined;
});

function newClient(
  endpoint: string,
  logger = createMemoryLogger().logger,
  maxPayloadBytes?: number,
): VoiceLiveClient {
  const azure = testAzure(endpoint);
  const client = new VoiceLiveClient({
    url: buildVoiceLiveUrl(azure),
    auth: createAuth(azure),
    inputBytesPerMs: 48,
    pingIntervalMs: 0,
    logger,
    ...(maxPayloadBytes === undefined ? {} : { maxPayloadBytes }),
  });
  clients.push(client);
  return client;
}

async function connected(logger = createMemoryLogger().logger, maxPayloadBytes?: number) {
  service ??= await startFakeService();
  const client = newClient(service.endpoint, logger, maxPayloadBytes);
  const serverSide = service.nextConnection();
  const outcome = await client.connect();
  expect(outcome.ok).toBe(true);
  const connection = await serverSide;
  const configured = await client.configure({ instructions: "Be brief." });
  expect(configured.ok).toBe(true);
  return { client, connection };
}

function collect(client: VoiceLiveClient) {
  const events: ServerEvent[] = [];
  const audio: { event: ResponseAudioDeltaEvent; pcm: number[] }[] = [];
  client.on("event", (event) => events.push(event));
  client.on("audio", (event, pcm) => audio.push({ event, pcm: Array.from(pcm) }));
  return { events, audio };
}

const scoped = { response_id: "resp_1", item_id: "item_1", output_index: 0, content_index: 0 };

describe("VoiceLiveClient", () => {
  it("connects, configures, and streams audio both ways as base64 PCM16", async () => {
    const { client, connection } = await connected();
    expect(connection.url).toBe("/voice-live/realtime?api-version=2025-10-01&model=gpt-realtime");
    expect(connection.headers["x-ms-client-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(connection.headers["x-ms-client-request-id"]).toBe(client.requestId);
    expect(connection.headers["sec-websocket-extensions"]).toBeUndefined();
    expect(connection.received[0]).toMatchObject({
      type: "session.update",
      session: { instructions: "Be brief." },
    });

    const pcm = Int16Array.from({ length: 480 }, (_, i) => (i * 97) % 30000);
    client.appendAudio(pcm);
    await until(() => connection.received.length === 2, 5_000, "append");
    const append = connection.received[1]!;
    expect(append.type).toBe("input_audio_buffer.append");
    const bytes = Buffer.from(append.audio as string, "base64");
    expect(Array.from(new Int16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2))).toEqual(
      Array.from(pcm),
    );

    const { events, audio } = collect(client);
    const reply = Int16Array.from([1, -2, 3, -4]);
    connection.send({ type: "response.created", response: { id: "resp_1", status: "in_progress" } });
    connection.send({
      type: "response.audio.delta",
      ...scoped,
      delta: Buffer.from(reply.buffer).toString("base64"),
    });
    await until(() => audio.length === 1, 5_000, "audio delta");
    expect(client.activeResponseId).toBe("resp_1");
    expect(client.audioProduced).toBe(true);
    expect(audio[0]).toMatchObject({
      event: { response_id: "resp_1", item_id: "item_1" },
      pcm: [1, -2, 3, -4],
    });
    connection.send({ type: "response.done", response: { id: "resp_1", status: "completed" } });
    await until(() => events.some((e) => e.type === "response.done"), 5_000, "response.done");
    expect(client.activeResponseId).toBeUndefined();
  });

  it("sends every control event with an id, and logs service errors with the event they refer to", async () => {
    const memory = createMemoryLogger();
    const { client, connection } = await connected(memory.logger);
    const ids = [
      client.commitInput(),
      client.clearInput(),
      client.createResponse({ modalities: ["text", "audio"] }, "Mention the weather."),
      client.cancelResponse(),
      client.createItem({ type: "message", role: "user", content: [{ type: "input_text", text: "hi" }] }),
      client.truncateItem("item_9", 1234.7),
      client.deleteItem("item_9"),
      client.retrieveItem("item_9"),
    ];
    expect(ids.every((id) => typeof id === "string")).toBe(true);
    await until(() => connection.received.length === 9, 5_000, "control events");
    expect(connection.received.slice(1).map((e) => e.type)).toEqual([
      "input_audio_buffer.commit",
      "input_audio_buffer.clear",
      "response.create",
      "response.cancel",
      "conversation.item.create",
      "conversation.item.truncate",
      "conversation.item.delete",
      "conversation.item.retrieve",
    ]);
    expect(connection.received[3]).toMatchObject({ additional_instructions: "Mention the weather." });
    expect(connection.received[6]).toMatchObject({ item_id: "item_9", content_index: 0, audio_end_ms: 1234 });
    expect(connection.received.slice(1).map((e) => e.event_id)).toEqual(ids);

    const { events } = collect(client);
    connection.send({
      type: "error",
      error: {
        type: "invalid_request_error",
        code: "response_cancel_not_active",
        message: "none",
        event_id: ids[3],
      },
    });
    connection.send({
      type: "error",
      error: {
        type: "invalid_request_error",
        code: "bad_truncate",
        message: "audio_end_ms too large",
        event_id: ids[5],
      },
    });
    await until(() => events.filter((e) => e.type === "error").length === 2, 5_000, "errors");
    const warnings = memory.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({
      msg: "Voice Live error",
      code: "bad_truncate",
      eventId: ids[5],
      clientEvent: "conversation.item.truncate",
      message: "audio_end_ms too large",
    });
  });

  it("surfaces a rejected session.update with the service's message", async () => {
    service = await startFakeService({
      answerSessionUpdate: false,
      onEvent: (connection, event) => {
        if (event.type === "session.update") {
          connection.send({
            type: "error",
            error: {
              type: "invalid_request_error",
              message: "Voice 'nobody' not found",
              event_id: event.event_id,
            },
          });
        }
      },
    });
    const client = newClient(service.endpoint);
    expect((await client.connect()).ok).toBe(true);
    expect(await client.configure({ voice: "nobody" })).toEqual({
      ok: false,
      problem: { kind: "rejected", message: "Voice 'nobody' not found" },
    });
  });

  it("ignores malformed frames, bad base64 and unknown events without losing the connection", async () => {
    const memory = createMemoryLogger();
    const { client, connection } = await connected(memory.logger);
    const { events, audio } = collect(client);
    const frames = [
      "not json at all",
      "[1,2,3]",
      '{"type":42}',
      JSON.stringify({ type: "input_audio_buffer.speech_started", audio_start_ms: "soon", item_id: 7 }),
      JSON.stringify({ type: "response.audio.delta", ...scoped, delta: "@@@@not-base64" }),
      JSON.stringify({ type: "response.audio.delta", ...scoped, delta: "AAA" }),
      JSON.stringify({ type: "some.future.event", payload: "x".repeat(2_000_000) }),
      JSON.stringify({ type: "response.audio_transcript.delta", ...scoped, delta: "y".repeat(3_000_000) }),
      JSON.stringify({ type: "response.done", response: { id: 5 } }),
    ];
    for (const frame of frames) connection.send(frame);
    connection.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    connection.send({ type: "input_audio_buffer.speech_started", audio_start_ms: 40, item_id: "u1" });
    await until(
      () => events.some((e) => e.type === "input_audio_buffer.speech_started"),
      5_000,
      "valid event",
    );
    expect(events.map((e) => e.type)).toEqual([
      "response.audio_transcript.delta",
      "input_audio_buffer.speech_started",
    ]);
    expect(audio).toHaveLength(0);
    expect(client.state).toBe("open");
    const logged = memory.lines.join("\n");
    expect(logged).toMatch(/malformed Voice Live event ignored/);
    expect(logged).toMatch(/audio delta with bad base64 ignored/);
    expect(logged).toMatch(/unhandled Voice Live event/);
    expect(Math.max(...memory.lines.map((l) => l.length))).toBeLessThan(2_000);
  });

  it("closes (and reports) a frame over the payload limit instead of buffering it", async () => {
    const { client, connection } = await connected(undefined, 1024 * 1024);
    const closes: Verdict[] = [];
    client.on("close", (problem) => closes.push(classifyProblem(problem)));
    connection.send(
      JSON.stringify({ type: "response.text.delta", ...scoped, delta: "z".repeat(2 * 1024 * 1024) }),
    );
    await until(() => closes.length === 1, 5_000, "close");
    expect(closes[0]).toEqual({
      outcome: "retry",
      message: "connection error: Max payload size exceeded (WS_ERR_UNSUPPORTED_MESSAGE_LENGTH)",
    });
  });

  it("keeps memory bounded while the server stops reading, dropping the oldest audio", async () => {
    const { client, connection } = await connected();
    const socket = (connection.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    const frame = new Int16Array(480).fill(1000);
    const frameBytes = 700;
    let commitSent = false;
    let droppedAtCommit = 0;
    let maxQueued = 0;
    let framesBeforeDrop = 0;
    for (let i = 0; i < 200_000 && (client.droppedAudioMs < 20_000 || !commitSent); i++) {
      client.appendAudio(frame);
      maxQueued = Math.max(maxQueued, client.queuedBytes);
      if (!commitSent && client.droppedAudioMs > 0) {
        client.commitInput();
        commitSent = true;
        droppedAtCommit = client.droppedAudioMs;
        framesBeforeDrop = i;
      }
      if (i % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(commitSent).toBe(true);
    // Drops begin only once the kernel's buffers are full, not on ordinary bursts.
    expect(framesBeforeDrop).toBeGreaterThan(50);
    expect(client.droppedAudioMs).toBeGreaterThan(droppedAtCommit);
    expect(maxQueued).toBeLessThanOrEqual(client.sendLimitBytes + frameBytes + 200);
    expect(client.socketBufferedBytes).toBeLessThanOrEqual(client.sendLimitBytes + frameBytes);

    // Once the server reads again everything queued arrives, the commit after the audio before it.
    socket.resume();
    await until(
      () => connection.received.some((e) => e.type === "input_audio_buffer.commit"),
      20_000,
      "commit",
    );
    await until(() => client.queuedBytes === 0, 20_000, "drain");
    client.appendAudio(frame);
    await until(
      () => connection.received.at(-1)?.type === "input_audio_buffer.append",
      20_000,
      "append after drain",
    );
  });

  it("keeps the API key out of the URL and the log", async () => {
    const memory = createMemoryLogger();
    const { connection } = await connected(memory.logger);
    const key = testAzure("http://x").apiKey!;
    expect(connection.headers["api-key"]).toBe(key);
    expect(connection.url).not.toContain(key);
    expect(connection.url).not.toMatch(/api-key/i);
    expect(memory.lines.length).toBeGreaterThan(0);
    expect(memory.lines.join("\n")).not.toContain(key);
    expect(memory.lines.join("\n")).not.toContain("[redacted]");
  });
});
