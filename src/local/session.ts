/**
 * One Voice Live session on the local server: the per-connection state machine behind the socket.
 * It owns the session configuration, the input audio buffer and its VAD, the conversation and the
 * response in progress, and answers each client event the way the service does. Every problem a
 * client can cause becomes an `error` event; the session carries on.
 */
import type { Logger } from "../log.ts";
import type {
  ClientEvent,
  ConversationItem,
  ConversationItemCreateEvent,
  ConversationItemTruncateEvent,
  ErrorDetails,
  FunctionCallItem,
  MessageItem,
  ResponseAudioTimestampDeltaEvent,
  ResponseCreateEvent,
  ResponseCreateParams,
  ServerEvent,
  SessionInfo,
  TurnDetection,
} from "../voicelive/protocol.ts";
import { InputDecoder, inputRateOf, outputRateOf } from "./audio-format.ts";
import { parseClientEvent } from "./client-events.ts";
import { ConversationItems } from "./conversation-items.ts";
import { newId } from "./ids.ts";
import { InputAudioBuffer } from "./input-buffer.ts";
import { acceptItem, messageText } from "./item-request.ts";
import { composeReply, type ReplyMode, type ReplySource } from "./reply.ts";
import { checkResponseParams, scriptedText } from "./response-request.ts";
import { type CancelReason, type ResponseOutcome, ResponseRun, type ResponseSink } from "./response-run.ts";
import { applySessionUpdate, createDefaultSession, vadSettingsOf } from "./session-config.ts";
import type { InvalidParam, SessionOrigin } from "./session-types.ts";
import { EnergyVad, type VadListener } from "./vad.ts";

export interface SessionSettings {
  readonly origin: SessionOrigin;
  readonly reply: ReplyMode;
  /** How much faster than real time reply audio is streamed. */
  readonly speed: number;
  /** Audio per `response.audio.delta`. */
  readonly chunkMs: number;
  /** A function call a test wants as the next response, if any (taken once). */
  readonly nextToolCall?: () => ScriptedToolCall | undefined;
  /** What a test says the next user turn of a session with these instructions said (taken once). */
  readonly nextTranscript?: (instructions: string) => string | undefined;
  readonly logger: Logger;
}

export interface ScriptedToolCall {
  readonly name: string;
  /** A JSON string. */
  readonly arguments: string;
}

export interface SessionTransport {
  send(event: ServerEvent): void;
  close(code: number, reason: string): void;
}

/** Where the session reports what the client sent (for tests). */
export interface ClientTraffic {
  recordEvent(type: string): void;
  recordAudio(pcmBytes: number, ms: number): void;
}

/** Longest input buffer kept; a client that never ends a turn loses its oldest audio. */
const MAX_BUFFER_MS = 5 * 60_000;
const MAX_ITEMS = 1000;
/** The service refuses to commit less audio than this. */
const MIN_COMMIT_MS = 100;
/** The service closes a session (1008) after this many failed session.updates. */
const MAX_FAILED_UPDATES = 5;
/** OpenAI's realtime models bill about 10 audio tokens per second of input. */
const INPUT_AUDIO_TOKENS_PER_SECOND = 10;

interface SpeechInProgress {
  readonly itemId: string;
  readonly startSample: number;
}

interface UserAudio {
  readonly itemId: string;
  readonly pcm: Int16Array;
  readonly sampleRate: number;
}

export class LocalSession {
  readonly #settings: SessionSettings;
  readonly #transport: SessionTransport;
  readonly #traffic: ClientTraffic;
  readonly #log: Logger;
  readonly #conversation = new ConversationItems(MAX_ITEMS);
  readonly #decoder = new InputDecoder();
  readonly #conversationId = newId("conv");
  readonly #vadListener: VadListener = {
    onSpeechStarted: (startSample) => this.#speechStarted(startSample),
    onSpeechStopped: (endSample) => this.#speechStopped(endSample),
  };
  readonly #responseSink: ResponseSink = {
    send: (event) => this.#send(event),
    finished: (outcome) => this.#responseFinished(outcome),
  };

  #session: SessionInfo;
  /** Input audio clock: absolute sample `n` of the buffer is at `#clockBaseMs + n / #inputRate` s. */
  #inputRate: number;
  #clockBaseMs = 0;
  #buffer: InputAudioBuffer;
  #vad: EnergyVad | undefined;
  #speech: SpeechInProgress | undefined;
  #lastUserAudio: UserAudio | undefined;
  #active: ResponseRun | undefined;
  readonly #wordTimestamps: ResponseAudioTimestampDeltaEvent[] = [];
  #failedUpdates = 0;
  #closed = false;

  constructor(settings: SessionSettings, transport: SessionTransport, traffic: ClientTraffic) {
    this.#settings = settings;
    this.#transport = transport;
    this.#traffic = traffic;
    this.#log = settings.logger.child({ sessionId: settings.origin.id });
    this.#session = createDefaultSession(settings.origin);
    this.#inputRate = this.#effectiveInputRate();
    this.#buffer = new InputAudioBuffer(this.#maxBufferSamples());
    this.#vad = this.#createVad(0);
  }

  open(): void {
    this.#send({ type: "session.created", session: this.#session });
  }

  /** The word timestamps sent so far (the first thousand), for tests to check captions against. */
  get wordTimestamps(): readonly ResponseAudioTimestampDeltaEvent[] {
    return this.#wordTimestamps;
  }

  /** The session's effective configuration. */
  get info(): SessionInfo {
    return this.#session;
  }

  /** The conversation as the server keeps it, in order (speaker notes, user audio, answers, tool calls). */
  items(): readonly ConversationItem[] {
    return this.#conversation.all();
  }

  /** The socket is gone: stop every timer, send nothing more. */
  dispose(): void {
    this.#closed = true;
    this.#active?.abort();
    this.#active = undefined;
  }

  handleText(text: string): void {
    if (this.#closed) return;
    const parsed = parseClientEvent(text);
    if ("problem" in parsed) {
      const { problem } = parsed;
      this.#traffic.recordEvent(problem.type ?? "(invalid)");
      this.#log.debug({ code: problem.code, type: problem.type }, "rejected a client event");
      this.emitError({
        code: problem.code,
        message: problem.message,
        param: problem.param,
        event_id: problem.eventId,
      });
      return;
    }
    this.#traffic.recordEvent(parsed.event.type);
    try {
      this.#dispatch(parsed.event);
    } catch (error) {
      this.#log.error({ err: error, type: parsed.event.type }, "failed to handle a client event");
      this.emitError({
        type: "server_error",
        code: "server_error",
        message: "The local server failed to handle the event",
        event_id: parsed.event.event_id,
      });
    }
  }

  handleBinary(): void {
    if (this.#closed) return;
    this.#traffic.recordEvent("(binary)");
    this.emitError({
      code: "invalid_event",
      message: "Voice Live takes JSON text frames; binary frames are not supported",
    });
  }

  /** Sends an `error` event; `type` defaults to `invalid_request_error`. */
  emitError(details: Omit<ErrorDetails, "type"> & { readonly type?: string }): void {
    this.#send({
      type: "error",
      error: {
        type: details.type ?? "invalid_request_error",
        code: details.code ?? null,
        message: details.message,
        param: details.param ?? null,
        event_id: details.event_id ?? null,
      },
    });
  }

  #send(event: ServerEvent): void {
    if (this.#closed) return;
    if (event.type === "response.audio_timestamp.delta" && this.#wordTimestamps.length < MAX_ITEMS) {
      this.#wordTimestamps.push(event);
    }
    this.#transport.send({ ...event, event_id: newId("event") });
  }

  #dispatch(event: ClientEvent): void {
    switch (event.type) {
      case "session.update":
        this.#sessionUpdate(event.session, event.event_id);
        return;
      case "input_audio_buffer.append":
        this.#append(event.audio, event.event_id);
        return;
      case "input_audio_buffer.commit":
        this.#commit(event.event_id);
        return;
      case "input_audio_buffer.clear":
        this.#clear();
        return;
      case "conversation.item.create":
        this.#createItem(event);
        return;
      case "conversation.item.truncate":
        this.#truncate(event);
        return;
      case "conversation.item.delete":
        this.#deleteItem(event.item_id, event.event_id);
        return;
      case "conversation.item.retrieve": {
        const stored = this.#conversation.get(event.item_id);
        if (stored === undefined) {
          this.#itemNotFound(event.item_id, event.event_id);
          return;
        }
        this.#send({ type: "conversation.item.retrieved", item: stored.item });
        return;
      }
      case "response.create":
        this.#responseCreate(event);
        return;
      case "response.cancel":
        this.#responseCancel(event.response_id, event.event_id);
        return;
    }
  }

  // --- session ---------------------------------------------------------------------------------

  #sessionUpdate(patch: unknown, eventId: string | undefined): void {
    const result = applySessionUpdate(this.#session, patch, this.#settings.origin);
    if ("invalid" in result) {
      this.#failedUpdates++;
      this.emitError({ code: "invalid_session_update_message", ...result.invalid, event_id: eventId });
      if (this.#failedUpdates >= MAX_FAILED_UPDATES) {
        this.#transport.close(1008, `Session configuration failed after ${MAX_FAILED_UPDATES} attempts`);
      }
      return;
    }
    const before = this.#session;
    this.#session = result.session;
    if (this.#effectiveInputRate() !== this.#inputRate) {
      this.#restartInputClock();
    } else if (before.turn_detection !== this.#session.turn_detection) {
      this.#vad = this.#createVad(this.#buffer.end);
      this.#speech = undefined;
    }
    this.#send({ type: "session.updated", session: this.#session });
  }

  #effectiveInputRate(): number {
    return inputRateOf(
      this.#session.input_audio_format ?? "pcm16",
      this.#session.input_audio_sampling_rate ?? 24_000,
    );
  }

  #maxBufferSamples(): number {
    return (MAX_BUFFER_MS * this.#inputRate) / 1000;
  }

  /** The input format changed: audio so far keeps its time, new audio counts at the new rate. */
  #restartInputClock(): void {
    this.#clockBaseMs += (this.#buffer.end * 1000) / this.#inputRate;
    this.#inputRate = this.#effectiveInputRate();
    this.#buffer = new InputAudioBuffer(this.#maxBufferSamples());
    this.#speech = undefined;
    this.#vad = this.#createVad(0);
  }

  #createVad(startSample: number): EnergyVad | undefined {
    const turnDetection = this.#session.turn_detection;
    if (turnDetection === null || turnDetection === undefined) return undefined;
    return new EnergyVad(vadSettingsOf(turnDetection), this.#inputRate, this.#vadListener, startSample);
  }

  #turnDetection(): TurnDetection | undefined {
    return this.#session.turn_detection ?? undefined;
  }

  #ms(sample: number): number {
    return Math.round(this.#clockBaseMs + (sample * 1000) / this.#inputRate);
  }

  // --- input audio -----------------------------------------------------------------------------

  #append(audio: string, eventId: string | undefined): void {
    const format = this.#session.input_audio_format ?? "pcm16";
    const samples = this.#decoder.decode(Buffer.from(audio, "base64"), format);
    if (samples === undefined) {
      this.emitError({
        code: "invalid_value",
        param: "audio",
        message: "pcm16 audio must hold whole 16-bit samples",
        event_id: eventId,
      });
      return;
    }
    this.#traffic.recordAudio(samples.length * 2, (samples.length * 1000) / this.#inputRate);
    this.#buffer.append(samples);
    const vad = this.#vad;
    if (vad === undefined) return;
    vad.process(samples);
    if (!vad.speaking) {
      // Between turns keep only what a coming utterance's prefix padding can reach.
      const onset = vad.pendingOnset >= 0 ? vad.pendingOnset : this.#buffer.end;
      this.#buffer.dropBefore(onset - vad.prefixSamples);
    }
  }

  #speechStarted(startSample: number): void {
    const itemId = newId("item");
    this.#speech = { itemId, startSample };
    this.#send({
      type: "input_audio_buffer.speech_started",
      audio_start_ms: this.#ms(startSample),
      item_id: itemId,
    });
    const active = this.#active;
    if (active !== undefined && this.#turnDetection()?.interrupt_response) {
      const played = Math.floor(active.playedMsEstimate(performance.now()));
      this.#cancelActive("turn_detected");
      if (this.#turnDetection()?.auto_truncate) this.#applyTruncation(active.itemId, 0, played);
    }
  }

  #speechStopped(endSample: number): void {
    const speech = this.#speech;
    if (speech === undefined) return;
    this.#speech = undefined;
    this.#send({
      type: "input_audio_buffer.speech_stopped",
      audio_end_ms: this.#ms(endSample),
      item_id: speech.itemId,
    });
    this.#commitAudio(speech.itemId, speech.startSample, endSample);
    if (!this.#turnDetection()?.create_response) return;
    if (this.#active !== undefined) {
      this.#log.debug("a turn ended while a response was still active; not starting another");
      return;
    }
    this.#startResponse({}, undefined);
  }

  #commit(eventId: string | undefined): void {
    const speech = this.#speech;
    const from = speech?.startSample ?? this.#buffer.start;
    const ms = ((this.#buffer.end - Math.max(from, this.#buffer.start)) * 1000) / this.#inputRate;
    if (ms < MIN_COMMIT_MS) {
      this.emitError({
        code: "input_audio_buffer_commit_empty",
        message: `Error committing input audio buffer: buffer too small. Expected at least ${MIN_COMMIT_MS}ms of audio, but buffer only has ${ms.toFixed(2)}ms of audio.`,
        event_id: eventId,
      });
      return;
    }
    this.#speech = undefined;
    this.#vad?.reset();
    this.#commitAudio(speech?.itemId ?? newId("item"), from, this.#buffer.end);
  }

  #clear(): void {
    this.#buffer.clear();
    this.#speech = undefined;
    this.#vad?.reset();
    this.#send({ type: "input_audio_buffer.cleared" });
  }

  /** Turns buffered audio [from, to) into a user item. */
  #commitAudio(itemId: string, from: number, to: number): void {
    const pcm = this.#buffer.copy(from, to);
    this.#buffer.dropBefore(to);
    const audioMs = (pcm.length * 1000) / this.#inputRate;
    const item: MessageItem = {
      id: itemId,
      object: "realtime.item",
      type: "message",
      status: "completed",
      role: "user",
      content: [{ type: "input_audio", audio: null, transcript: null }],
    };
    const previousItemId = this.#conversation.insert({ item, audioMs });
    this.#lastUserAudio = { itemId, pcm, sampleRate: this.#inputRate };
    this.#send({ type: "input_audio_buffer.committed", previous_item_id: previousItemId, item_id: itemId });
    this.#send({ type: "conversation.item.created", previous_item_id: previousItemId, item });
    if (this.#session.input_audio_transcription) {
      // There is no speech recognition offline: unless a test scripted the words, the transcript
      // only says how much speech there was.
      const transcript =
        this.#settings.nextTranscript?.(this.#session.instructions ?? "") ??
        `[local transcript: ${(audioMs / 1000).toFixed(1)} s of speech]`;
      this.#conversation.replace({
        item: { ...item, content: [{ type: "input_audio", audio: null, transcript }] },
        audioMs,
      });
      this.#send({
        type: "conversation.item.input_audio_transcription.completed",
        item_id: itemId,
        content_index: 0,
        transcript,
      });
    }
  }

  // --- conversation ----------------------------------------------------------------------------

  #itemNotFound(itemId: string, eventId: string | undefined, param = "item_id"): void {
    this.emitError({
      code: "item_not_found",
      param,
      message: `No conversation item with id ${itemId.slice(0, 100)}`,
      event_id: eventId,
    });
  }

  #createItem(event: ConversationItemCreateEvent): void {
    const previous = event.previous_item_id;
    if (typeof previous === "string" && previous !== "root" && !this.#conversation.has(previous)) {
      this.#itemNotFound(previous, event.event_id, "previous_item_id");
      return;
    }
    const raw = event.item as unknown as Record<string, unknown>;
    const requestedId = raw.id;
    if (
      requestedId !== undefined &&
      (typeof requestedId !== "string" || requestedId === "" || this.#conversation.has(requestedId))
    ) {
      this.emitError({
        code: "invalid_value",
        param: "item.id",
        message: "item.id must be a new, non-empty string",
        event_id: event.event_id,
      });
      return;
    }
    const accepted = acceptItem(raw, requestedId ?? newId("item"));
    if ("invalid" in accepted) {
      this.emitError({ code: "invalid_value", ...accepted.invalid, event_id: event.event_id });
      return;
    }
    let audioMs = 0;
    if (accepted.audio !== undefined) {
      const samples = this.#decoder.decode(
        Buffer.from(accepted.audio, "base64"),
        this.#session.input_audio_format ?? "pcm16",
      );
      if (samples === undefined) {
        this.emitError({
          code: "invalid_value",
          param: "item.content",
          message: "input_audio must hold whole 16-bit samples",
          event_id: event.event_id,
        });
        return;
      }
      audioMs = (samples.length * 1000) / this.#inputRate;
      this.#lastUserAudio = { itemId: accepted.item.id!, pcm: samples.slice(), sampleRate: this.#inputRate };
    }
    const previousItemId = this.#conversation.insert({ item: accepted.item, audioMs }, previous);
    this.#send({ type: "conversation.item.created", previous_item_id: previousItemId, item: accepted.item });
  }

  #deleteItem(itemId: string, eventId: string | undefined): void {
    if (!this.#conversation.has(itemId)) {
      this.#itemNotFound(itemId, eventId);
      return;
    }
    if (this.#active?.itemId === itemId) this.#cancelActive("client_cancelled");
    this.#conversation.delete(itemId);
    this.#send({ type: "conversation.item.deleted", item_id: itemId });
  }

  #truncate(event: ConversationItemTruncateEvent): void {
    if (!this.#conversation.has(event.item_id)) {
      this.#itemNotFound(event.item_id, event.event_id);
      return;
    }
    // The client stopped playing this item: whatever is still being generated for it is unheard.
    if (this.#active?.itemId === event.item_id) this.#cancelActive("client_cancelled");
    const problem = this.#applyTruncation(event.item_id, event.content_index, event.audio_end_ms);
    if (problem !== undefined)
      this.emitError({ code: "invalid_value", ...problem, event_id: event.event_id });
  }

  /** Truncates an assistant audio item and announces it, or says why it cannot. */
  #applyTruncation(itemId: string, contentIndex: number, audioEndMs: number): InvalidParam | undefined {
    const problem = this.#conversation.truncate(itemId, contentIndex, audioEndMs);
    if (problem !== undefined) return problem;
    this.#send({
      type: "conversation.item.truncated",
      item_id: itemId,
      content_index: contentIndex,
      audio_end_ms: audioEndMs,
    });
    return undefined;
  }

  // --- responses -------------------------------------------------------------------------------

  #responseCreate(event: ResponseCreateEvent): void {
    const params = event.response ?? {};
    const problem = checkResponseParams(params, this.#session, this.#settings.origin);
    if (problem !== undefined) {
      this.emitError({ code: "invalid_value", ...problem, event_id: event.event_id });
      return;
    }
    if (this.#active !== undefined) {
      if (params.cancel_previous === false) {
        this.emitError({
          code: "conversation_already_has_active_response",
          message: `Conversation already has an active response in progress: ${this.#active.id}`,
          event_id: event.event_id,
        });
        return;
      }
      this.#cancelActive("client_cancelled");
    }
    const pendingMs = ((this.#buffer.end - this.#buffer.start) * 1000) / this.#inputRate;
    if (params.commit !== false && this.#vad === undefined && pendingMs >= MIN_COMMIT_MS) {
      this.#commitAudio(newId("item"), this.#buffer.start, this.#buffer.end);
    }
    this.#startResponse(params, event.additional_instructions);
  }

  #replySource(params: ResponseCreateParams): ReplySource {
    const scripted = params.pre_generated_assistant_message;
    if (scripted !== undefined) return { kind: "scripted", text: scriptedText(scripted) ?? "" };
    const last = this.#conversation.last();
    if (last?.type === "function_call_output") return { kind: "tool", output: last.output };
    const user = this.#conversation.lastUserMessage();
    if (user === undefined) return { kind: "none" };
    const audio = this.#lastUserAudio;
    if (audio !== undefined && audio.itemId === user.id)
      return { kind: "audio", pcm: audio.pcm, sampleRate: audio.sampleRate };
    const text = messageText(user);
    return text === "" ? { kind: "none" } : { kind: "text", text };
  }

  #startResponse(params: ResponseCreateParams, additionalInstructions: string | undefined): void {
    const call =
      params.pre_generated_assistant_message === undefined ? this.#settings.nextToolCall?.() : undefined;
    if (call !== undefined) {
      this.#callTool(call);
      return;
    }
    const session = this.#session;
    const outputFormat = params.output_audio_format ?? session.output_audio_format ?? "pcm16";
    const source = this.#replySource(params);
    const reply = composeReply(this.#settings.reply, source, outputRateOf(outputFormat));
    const responseId = newId("resp");
    const itemId = newId("item");
    const placeholder: MessageItem = {
      id: itemId,
      object: "realtime.item",
      type: "message",
      status: "in_progress",
      role: "assistant",
      content: [],
    };
    const previousItemId = this.#conversation.insert({ item: placeholder, audioMs: 0 });
    const instructions = `${params.instructions ?? session.instructions ?? ""}${additionalInstructions ?? ""}`;
    const run = new ResponseRun(
      {
        responseId,
        itemId,
        conversationId: this.#conversationId,
        previousItemId,
        modalities: params.modalities ?? session.modalities ?? ["text", "audio"],
        voice: params.voice ?? session.voice,
        outputFormat,
        temperature: params.temperature ?? session.temperature,
        maxOutputTokens: params.max_output_tokens ?? session.max_response_output_tokens ?? "inf",
        metadata: params.metadata ?? null,
        reply,
        inputTokens: {
          text:
            Math.ceil(instructions.length / 4) +
            (source.kind === "text" ? Math.ceil(source.text.length / 4) : 0),
          audio:
            source.kind === "audio"
              ? Math.round((source.pcm.length / source.sampleRate) * INPUT_AUDIO_TOKENS_PER_SECOND)
              : 0,
        },
        speed: this.#settings.speed,
        chunkMs: this.#settings.chunkMs,
        wordTimestamps: session.output_audio_timestamp_types?.includes("word") === true,
      },
      this.#responseSink,
    );
    this.#active = run;
    run.start();
  }

  /** A response that is one function call, as a model asks the client to run a tool. */
  #callTool(call: ScriptedToolCall): void {
    const responseId = newId("resp");
    const item: FunctionCallItem = {
      id: newId("item"),
      object: "realtime.item",
      type: "function_call",
      status: "completed",
      name: call.name,
      call_id: newId("call"),
      arguments: call.arguments,
    };
    const previousItemId = this.#conversation.insert({ item, audioMs: 0 });
    const response = (status: "in_progress" | "completed", output: readonly ConversationItem[]) => ({
      id: responseId,
      object: "realtime.response" as const,
      status,
      status_details: null,
      output,
      conversation_id: this.#conversationId,
      modalities: this.#session.modalities ?? ["text", "audio"],
      usage: null,
    });
    const scope = { response_id: responseId, item_id: item.id!, output_index: 0, call_id: item.call_id };
    this.#send({ type: "response.created", response: response("in_progress", []) });
    this.#send({ type: "response.output_item.added", response_id: responseId, output_index: 0, item });
    this.#send({ type: "conversation.item.created", previous_item_id: previousItemId, item });
    this.#send({ type: "response.function_call_arguments.delta", ...scope, delta: call.arguments });
    this.#send({
      type: "response.function_call_arguments.done",
      ...scope,
      name: call.name,
      arguments: call.arguments,
    });
    this.#send({ type: "response.output_item.done", response_id: responseId, output_index: 0, item });
    this.#send({ type: "response.done", response: response("completed", [item]) });
  }

  #responseCancel(responseId: string | undefined, eventId: string | undefined): void {
    const active = this.#active;
    if (
      active === undefined ||
      (responseId !== undefined && responseId !== null && responseId !== active.id)
    ) {
      this.emitError({
        code: "response_cancel_not_active",
        message: "Cancellation failed: no active response found",
        event_id: eventId,
      });
      return;
    }
    this.#cancelActive("client_cancelled");
  }

  #cancelActive(reason: CancelReason): void {
    this.#active?.cancel(reason);
  }

  #responseFinished(outcome: ResponseOutcome): void {
    this.#conversation.replace({ item: outcome.item, audioMs: outcome.audioMs });
    if (this.#active?.itemId === outcome.item.id) this.#active = undefined;
  }
}
