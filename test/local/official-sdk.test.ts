/**
 * Microsoft's official client, @azure/ai-voicelive, against the local server: an independent check
 * that the local server speaks the real protocol (its handshake, api-key handling, permessage-deflate,
 * event names and field shapes, which the SDK deserializes strictly and drops when unknown).
 */
import {
  type ServerEventConversationItemCreated,
  type ServerEventConversationItemTruncated,
  type ServerEventError,
  type ServerEventInputAudioBufferCommitted,
  type ServerEventInputAudioBufferSpeechStarted,
  type ServerEventInputAudioBufferSpeechStopped,
  type ServerEventResponseAudioDelta,
  type ServerEventResponseCreated,
  type ServerEventResponseDone,
  type ServerEventResponseOutputItemDone,
  type ServerEventResponseTextDone,
  type ServerEventSessionUpdated,
  type ServerEventConversationItemInputAudioTranscriptionCompleted as ServerEventTranscriptionCompleted,
  type ServerEventUnion,
  VoiceLiveClient,
  type VoiceLiveSession,
} from "@azure/ai-voicelive";
import { afterEach, describe, expect, it } from "vitest";
import { type LocalVoiceLiveServer, startLocalVoiceLiveServer } from "../../src/local/server.ts";
import { concatPcm, loadSpeech } from "./helpers.ts";

const KEY = "sdk-test-key-0123456789";
const API_VERSION = "2025-10-01";
const CHUNK_SAMPLES = 480; // 20 ms at 24 kHz

let server: LocalVoiceLiveServer | undefined;
let session: VoiceLiveSession | undefined;

afterEach(async () => {
  await session?.dispose();
  await server?.close();
  session = undefined;
  server = undefined;
});

/** Every server event the SDK delivered, in order. */
class Recorder {
  readonly events: ServerEventUnion[] = [];
  #wake: (() => void)[] = [];

  push(event: ServerEventUnion): void {
    this.events.push(event);
    for (const wake of this.#wake.splice(0)) wake();
  }

  of<T extends ServerEventUnion>(type: string): T[] {
    return this.events.filter((e) => e.type === type) as T[];
  }

  async next<T extends ServerEventUnion>(
    type: string,
    where: (event: T) => boolean = () => true,
    timeoutMs = 15_000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.of<T>(type).find(where);
      if (found !== undefined) return found;
      if (Date.now() > deadline)
        throw new Error(`no ${type}; got ${this.events.map((e) => e.type).join(", ")}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.#wake.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

async function startSdkSession(speed: number): Promise<{ recorder: Recorder; sdk: VoiceLiveSession }> {
  server = await startLocalVoiceLiveServer({ apiKey: KEY, speed });
  const recorder = new Recorder();
  const client = new VoiceLiveClient(server.url, { key: KEY }, { apiVersion: API_VERSION });
  const sdk = await client.startSession("gpt-realtime", {
    apiVersion: API_VERSION,
    sessionHandlers: {
      onServerEvent: async (event) => recorder.push(event),
    },
  });
  session = sdk;
  await recorder.next("session.created");
  await sdk.updateSession({
    modalities: ["text", "audio"],
    inputAudioFormat: "pcm16",
    outputAudioFormat: "pcm16",
    turnDetection: {
      type: "server_vad",
      threshold: 0.5,
      prefixPaddingInMs: 300,
      silenceDurationInMs: 500,
      createResponse: true,
      interruptResponse: true,
    },
  });
  const updated = await recorder.next<ServerEventSessionUpdated>("session.updated");
  expect(updated.session.turnDetection).toMatchObject({
    type: "server_vad",
    prefixPaddingInMs: 300,
    silenceDurationInMs: 500,
  });
  return { recorder, sdk };
}

async function speak(sdk: VoiceLiveSession, pcm: Int16Array): Promise<void> {
  for (let i = 0; i < pcm.length; i += CHUNK_SAMPLES) {
    const chunk = pcm.subarray(i, i + CHUNK_SAMPLES);
    await sdk.sendAudio(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
}

function audioOf(recorder: Recorder, responseId: string): Int16Array {
  return concatPcm(
    recorder
      .of<ServerEventResponseAudioDelta>("response.audio.delta")
      .filter((e) => e.responseId === responseId)
      // The SDK decodes into a Buffer, whose slice() would be a view on a shared pool: copy.
      .map((e) => new Int16Array(new Uint8Array(e.delta).buffer)),
  );
}

describe("@azure/ai-voicelive against the local server", () => {
  it("completes a full spoken turn", async () => {
    const { recorder, sdk } = await startSdkSession(50);
    expect(sdk.sessionId).toMatch(/^sess_/);
    const speech = loadSpeech("speech-weather-question.wav");
    await speak(sdk, concatPcm([speech, new Int16Array(24_000)]));

    const started = await recorder.next<ServerEventInputAudioBufferSpeechStarted>(
      "input_audio_buffer.speech_started",
    );
    const stopped = await recorder.next<ServerEventInputAudioBufferSpeechStopped>(
      "input_audio_buffer.speech_stopped",
    );
    const committed = await recorder.next<ServerEventInputAudioBufferCommitted>(
      "input_audio_buffer.committed",
    );
    const done = await recorder.next<ServerEventResponseDone>("response.done");
    expect(committed.itemId).toBe(started.itemId);
    expect(done.response.status).toBe("completed");
    expect(done.response.usage?.totalTokens).toBeGreaterThan(0);

    const echoed = audioOf(recorder, done.response.id!);
    const expected = speech.slice(started.audioStartInMs * 24, stopped.audioEndInMs * 24);
    expect(Buffer.from(echoed.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
    expect(recorder.of<ServerEventError>("error")).toEqual([]);
  });

  it("reads every other kind of event the local server sends", async () => {
    const { recorder, sdk } = await startSdkSession(50);
    await sdk.updateSession({ inputAudioTranscription: { model: "gpt-4o-mini-transcribe" } });
    await speak(sdk, concatPcm([loadSpeech("speech-meeting-summary.wav"), new Int16Array(24_000)]));
    const transcription = await recorder.next<ServerEventTranscriptionCompleted>(
      "conversation.item.input_audio_transcription.completed",
    );
    expect(transcription.transcript).toMatch(/^\[local transcript: \d+\.\d s of speech\]$/);
    await recorder.next("response.done");

    await sdk.addConversationItem({
      type: "message",
      role: "user",
      id: "typed",
      content: [{ type: "input_text", text: "Hi" }],
    });
    await recorder.next<ServerEventConversationItemCreated>(
      "conversation.item.created",
      (e) => e.item?.id === "typed",
    );
    await sdk.sendEvent({ type: "response.create", response: { modalities: ["text"] } });
    const text = await recorder.next<ServerEventResponseTextDone>("response.text.done");
    expect(text.text).toBe("(local reply to: Hi)");
    await sdk.sendEvent({ type: "conversation.item.retrieve", itemId: "typed" });
    await recorder.next("conversation.item.retrieved");
    await sdk.sendEvent({ type: "conversation.item.delete", itemId: "typed" });
    await recorder.next("conversation.item.deleted");
    await sdk.sendEvent({ type: "input_audio_buffer.clear" });
    await recorder.next("input_audio_buffer.cleared");
    await sdk.sendEvent({ type: "response.cancel", eventId: "idle-cancel" });
    const error = await recorder.next<ServerEventError>("error");
    expect(error.error).toMatchObject({ code: "response_cancel_not_active", eventId: "idle-cancel" });
    expect(recorder.events.filter((e) => e.type === "error")).toHaveLength(1);
  });

  it("is interrupted by new speech and truncates what was played", async () => {
    const { recorder, sdk } = await startSdkSession(1);
    await speak(sdk, concatPcm([loadSpeech("speech-weather-question.wav"), new Int16Array(24_000)]));
    const created = await recorder.next<ServerEventResponseCreated>("response.created");
    const responseId = created.response.id!;
    await recorder.next("response.audio.delta", () => recorder.of("response.audio.delta").length >= 3);

    await speak(sdk, concatPcm([loadSpeech("speech-interruption.wav"), new Int16Array(24_000)]));
    const done = await recorder.next<ServerEventResponseDone>(
      "response.done",
      (e) => e.response.id === responseId,
    );
    expect(done.response.status).toBe("cancelled");
    expect(done.response.statusDetails).toMatchObject({ type: "cancelled", reason: "turn_detected" });
    const itemDone = await recorder.next<ServerEventResponseOutputItemDone>(
      "response.output_item.done",
      (e) => e.responseId === responseId,
    );
    const itemId = itemDone.item?.id ?? "";

    const playedMs = Math.floor(audioOf(recorder, responseId).length / 24 / 2);
    await sdk.sendEvent({
      type: "conversation.item.truncate",
      itemId,
      contentIndex: 0,
      audioEndInMs: playedMs,
    });
    const truncated = await recorder.next<ServerEventConversationItemTruncated>(
      "conversation.item.truncated",
    );
    expect(truncated).toMatchObject({ itemId, contentIndex: 0, audioEndInMs: playedMs });

    // The interruption becomes the next turn.
    await recorder.next<ServerEventResponseCreated>("response.created", (e) => e.response.id !== responseId);
    expect(recorder.of<ServerEventError>("error")).toEqual([]);
  });
});
