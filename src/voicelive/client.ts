import { randomUUID } from "node:crypto";
import WebSocket, { type RawData } from "ws";
import { type Logger, log } from "../log.ts";
import { TypedEmitter } from "../util/typed-emitter.ts";
import type { ConnectionAuth } from "./auth.ts";
import { type ConnectionProblem, parseRetryAfter } from "./failure.ts";
import { OutboundQueue } from "./outbound-queue.ts";
import { parseServerEvent } from "./parse-server-event.ts";
import { appendEventJson, Base64PcmDecoder, base64Length } from "./pcm-base64.ts";
import type {
  ClientEvent,
  ClientEventType,
  ConversationItem,
  ErrorEvent,
  ResponseAudioDeltaEvent,
  ResponseCreateParams,
  ServerEvent,
  SessionConfig,
  SessionInfo,
} from "./protocol.ts";

/**
 * One Voice Live WebSocket connection: connect, await `session.created`, configure, typed events
 * out, audio and control events in. It never reconnects; VoiceLiveSession adds that policy.
 *
 * permessage-deflate is off. Measured on test/fixtures/speech-weather-question.wav (5.9 s, 27% quiet
 * frames) as 24 kHz 20 ms append frames: zlib (level 1, context takeover, sync flush per message)
 * shrinks them to 54% (57% without takeover; 53% at level 6) — it mostly undoes base64's 4/3
 * expansion, about 30 kB/s saved per guild. Against that: ~50 µs of synchronous CPU per frame on the
 * event loop every 20 ms per guild, a zlib context (hundreds of kB) per socket and direction, and
 * ws's documented deflate memory fragmentation. Bandwidth is the cheaper resource here.
 */

export type ClientState = "idle" | "connecting" | "open" | "closing" | "closed";

export interface VoiceLiveClientOptions {
  readonly url: string;
  readonly auth: ConnectionAuth;
  /** Input audio bytes per ms (pcm16 24 kHz: 48, 16 kHz: 32, g711: 8): sizes the send limit. */
  readonly inputBytesPerMs: number;
  /** Handshake plus `session.created`. Default 15 s. */
  readonly connectTimeoutMs?: number;
  /** `session.update` to `session.updated`. Default 10 s. */
  readonly configureTimeoutMs?: number;
  /** Largest incoming frame; bigger ones close the socket (1009). Default 16 MiB. */
  readonly maxPayloadBytes?: number;
  /** Ping period to find dead sockets (two periods without a pong end it); 0 disables. Default 30 s. */
  readonly pingIntervalMs?: number;
  /** Told the type of every event sent (queued for the socket), for the simulator's report. */
  readonly onClientEvent?: (type: ClientEventType) => void;
  readonly logger?: Logger;
}

export type ConnectOutcome =
  | { readonly ok: true; readonly session: SessionInfo; readonly requestId: string }
  | { readonly ok: false; readonly problem: ConnectionProblem };

export type ConfigureOutcome =
  | { readonly ok: true; readonly session: SessionInfo }
  | { readonly ok: false; readonly problem: ConnectionProblem };

export interface VoiceLiveClientEvents {
  /** Every valid server event except `response.audio.delta`. */
  event: (event: ServerEvent) => void;
  /** `pcm` is a reused buffer, valid until the listener returns. */
  audio: (event: ResponseAudioDeltaEvent, pcm: Int16Array) => void;
  /** After a successful connect, the socket has closed; `requested` when close() asked for it. */
  close: (problem: ConnectionProblem, requested: boolean) => void;
}

interface PendingUpdate {
  readonly eventId: string;
  readonly timer: NodeJS.Timeout;
  readonly settle: (outcome: ConfigureOutcome) => void;
}

const SENT_TYPES_REMEMBERED = 256;
const CLOSE_WAIT_MS = 3_000;

export class VoiceLiveClient extends TypedEmitter<VoiceLiveClientEvents> {
  readonly #url: string;
  readonly #auth: ConnectionAuth;
  readonly #inputBytesPerMs: number;
  readonly #connectTimeoutMs: number;
  readonly #configureTimeoutMs: number;
  readonly #maxPayloadBytes: number;
  readonly #pingIntervalMs: number;
  readonly #onClientEvent: ((type: ClientEventType) => void) | undefined;
  #log: Logger;

  #state: ClientState = "idle";
  #ws: WebSocket | undefined;
  #queue: OutboundQueue | undefined;
  #closeRequested = false;
  #onSessionCreated: ((session: SessionInfo) => void) | undefined;
  #session: SessionInfo | undefined;
  readonly #pendingUpdates: PendingUpdate[] = [];
  /** Client event id -> type, so a server `error` names what it refers to. */
  readonly #sentTypes = new Map<string, ClientEventType>();
  readonly #idPrefix = `evt_${randomUUID().slice(0, 8)}_`;
  #eventSeq = 0;
  #activeResponseId: string | undefined;
  #audioProduced = false;
  readonly #decoder = new Base64PcmDecoder();
  #pingTimer: NodeJS.Timeout | undefined;
  #awaitingPong = false;
  #requestId: string | undefined;

  constructor(options: VoiceLiveClientOptions) {
    super();
    this.#url = options.url;
    this.#auth = options.auth;
    this.#inputBytesPerMs = options.inputBytesPerMs;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 15_000;
    this.#configureTimeoutMs = options.configureTimeoutMs ?? 10_000;
    this.#maxPayloadBytes = options.maxPayloadBytes ?? 16 * 1024 * 1024;
    this.#pingIntervalMs = options.pingIntervalMs ?? 30_000;
    this.#onClientEvent = options.onClientEvent;
    this.#log = options.logger ?? log.child({ component: "voicelive" });
    this.emitterLog = this.#log;
  }

  get state(): ClientState {
    return this.#state;
  }

  /** The effective session as last reported by the server. */
  get session(): SessionInfo | undefined {
    return this.#session;
  }

  /** The `x-ms-client-request-id` of this connection, for support requests. */
  get requestId(): string | undefined {
    return this.#requestId;
  }

  /** Set between `response.created` and `response.done`. */
  get activeResponseId(): string | undefined {
    return this.#activeResponseId;
  }

  /** Whether the service has sent audio on this connection (the voice is then fixed). */
  get audioProduced(): boolean {
    return this.#audioProduced;
  }

  /** Audio dropped because the socket could not keep up. */
  get droppedAudioMs(): number {
    return this.#queue?.droppedAudioMs ?? 0;
  }

  /** Frames waiting in this client (not yet handed to the socket). */
  get queuedBytes(): number {
    return this.#queue?.queuedBytes ?? 0;
  }

  /** Bytes the socket itself holds (ws's `bufferedAmount`): at most about the send limit. */
  get socketBufferedBytes(): number {
    return this.#ws?.bufferedAmount ?? 0;
  }

  /** The send limit: one second of input audio as base64. */
  get sendLimitBytes(): number {
    return base64Length(Math.ceil(1000 * this.#inputBytesPerMs));
  }

  /** Opens the socket and waits for `session.created`. Once per client. */
  async connect(): Promise<ConnectOutcome> {
    if (this.#state !== "idle") throw new Error("VoiceLiveClient.connect() may be called once");
    this.#state = "connecting";
    let headers: Record<string, string>;
    try {
      headers = await this.#auth.headers();
    } catch (err) {
      this.#state = "closed";
      const error = err instanceof Error ? err : new Error(String(err));
      return { ok: false, problem: { kind: "credential", name: error.name, message: error.message } };
    }
    if (this.#closeRequested) {
      this.#state = "closed";
      return { ok: false, problem: { kind: "close", code: 1000, reason: "closed by client" } };
    }
    const requestId = randomUUID();
    this.#requestId = requestId;
    this.#log = this.#log.child({ requestId });
    this.emitterLog = this.#log;
    this.#log.info({ url: this.#url, auth: this.#auth.kind }, "connecting to Voice Live");

    return new Promise<ConnectOutcome>((resolve) => {
      const ws = new WebSocket(this.#url, {
        headers: { ...headers, "x-ms-client-request-id": requestId },
        perMessageDeflate: false,
        maxPayload: this.#maxPayloadBytes,
      });
      this.#ws = ws;
      let settled = false;
      let httpProblem: ConnectionProblem | undefined;
      let networkProblem: ConnectionProblem | undefined;
      const settle = (outcome: ConnectOutcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#onSessionCreated = undefined;
        resolve(outcome);
      };
      const timer = setTimeout(() => {
        const waitingFor = ws.readyState === WebSocket.OPEN ? "session.created" : "connection";
        settle({ ok: false, problem: { kind: "timeout", waitingFor } });
        ws.terminate();
      }, this.#connectTimeoutMs);
      this.#onSessionCreated = (session) => {
        this.#state = "open";
        this.#log.info({ sessionId: session.id, model: session.model }, "Voice Live session created");
        settle({ ok: true, session, requestId });
      };

      ws.on("unexpected-response", (_request, response) => {
        const retryAfter = response.headers["retry-after"];
        httpProblem = {
          kind: "http",
          status: response.statusCode ?? 0,
          retryAfterMs: parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter),
        };
        response.resume();
        ws.terminate();
      });
      ws.on("error", (err: NodeJS.ErrnoException) => {
        networkProblem ??= { kind: "network", message: err.message, code: err.code };
        this.#log.debug({ err }, "Voice Live socket error");
      });
      ws.on("open", () => {
        this.#queue = new OutboundQueue(ws, this.sendLimitBytes);
        this.#startPing(ws);
      });
      ws.on("pong", () => {
        this.#awaitingPong = false;
      });
      ws.on("message", (data, isBinary) => this.#onMessage(data, isBinary));
      ws.on("close", (code, reasonBuffer) => {
        const reason = reasonBuffer.toString("utf8");
        const wasOpen = this.#state === "open" || this.#state === "closing";
        const problem: ConnectionProblem = this.#closeRequested
          ? { kind: "close", code: 1000, reason: "closed by client" }
          : (httpProblem ?? (code === 1006 ? networkProblem : undefined) ?? { kind: "close", code, reason });
        this.#teardown(problem);
        if (!settled) {
          settle({ ok: false, problem });
        } else if (wasOpen) {
          this.#log.info(
            { code, reason: reason.slice(0, 120), requested: this.#closeRequested },
            "Voice Live socket closed",
          );
          this.emit("close", problem, this.#closeRequested);
        }
      });
    });
  }

  /**
   * Sends a (full or partial) `session.update` and waits for `session.updated`, or the service's
   * `error` for it (`rejected`, with the service's message).
   */
  configure(session: SessionConfig): Promise<ConfigureOutcome> {
    return new Promise<ConfigureOutcome>((resolve) => {
      const eventId = this.send({ type: "session.update", session });
      if (eventId === undefined) {
        resolve({ ok: false, problem: { kind: "close", code: 1006, reason: "not connected" } });
        return;
      }
      const pending: PendingUpdate = {
        eventId,
        timer: setTimeout(() => {
          this.#settleUpdate(pending, {
            ok: false,
            problem: { kind: "timeout", waitingFor: "session.updated" },
          });
        }, this.#configureTimeoutMs),
        settle: resolve,
      };
      this.#pendingUpdates.push(pending);
    });
  }

  /** Appends PCM16 (or g711 bytes) as `input_audio_buffer.append`; false when not connected. */
  appendAudio(audio: Int16Array | Uint8Array): boolean {
    const queue = this.#queue;
    if (queue === undefined || this.#state !== "open") return false;
    queue.sendAudio(appendEventJson(audio), audio.byteLength / this.#inputBytesPerMs);
    this.#onClientEvent?.("input_audio_buffer.append");
    return true;
  }

  commitInput(): string | undefined {
    return this.send({ type: "input_audio_buffer.commit" });
  }

  clearInput(): string | undefined {
    return this.send({ type: "input_audio_buffer.clear" });
  }

  createResponse(response?: ResponseCreateParams, additionalInstructions?: string): string | undefined {
    return this.send({
      type: "response.create",
      ...(response === undefined ? {} : { response }),
      ...(additionalInstructions === undefined ? {} : { additional_instructions: additionalInstructions }),
    });
  }

  cancelResponse(responseId?: string): string | undefined {
    return this.send({
      type: "response.cancel",
      ...(responseId === undefined ? {} : { response_id: responseId }),
    });
  }

  createItem(item: ConversationItem, previousItemId?: string): string | undefined {
    return this.send({
      type: "conversation.item.create",
      item,
      ...(previousItemId === undefined ? {} : { previous_item_id: previousItemId }),
    });
  }

  truncateItem(itemId: string, audioEndMs: number, contentIndex = 0): string | undefined {
    return this.send({
      type: "conversation.item.truncate",
      item_id: itemId,
      content_index: contentIndex,
      audio_end_ms: Math.max(0, Math.floor(audioEndMs)),
    });
  }

  deleteItem(itemId: string): string | undefined {
    return this.send({ type: "conversation.item.delete", item_id: itemId });
  }

  retrieveItem(itemId: string): string | undefined {
    return this.send({ type: "conversation.item.retrieve", item_id: itemId });
  }

  /** Sends any client event (never dropped); returns its event id, or undefined when not connected. */
  send(event: ClientEvent): string | undefined {
    const queue = this.#queue;
    if (queue === undefined || this.#state !== "open") {
      this.#log.debug({ type: event.type }, "Voice Live event not sent: not connected");
      return undefined;
    }
    const eventId = event.event_id ?? `${this.#idPrefix}${++this.#eventSeq}`;
    this.#sentTypes.set(eventId, event.type);
    if (this.#sentTypes.size > SENT_TYPES_REMEMBERED) {
      this.#sentTypes.delete(this.#sentTypes.keys().next().value!);
    }
    queue.sendControl(JSON.stringify(event.event_id === undefined ? { ...event, event_id: eventId } : event));
    this.#onClientEvent?.(event.type);
    return eventId;
  }

  /** Closes with 1000 and waits for the socket to end (terminating it if the peer stalls). */
  close(reason = "client closing"): Promise<void> {
    this.#closeRequested = true;
    const ws = this.#ws;
    if (ws === undefined || ws.readyState === WebSocket.CLOSED) {
      if (this.#state !== "connecting") this.#state = "closed";
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const force = setTimeout(() => ws.terminate(), CLOSE_WAIT_MS);
      ws.once("close", () => {
        clearTimeout(force);
        resolve();
      });
      if (ws.readyState === WebSocket.CONNECTING) {
        ws.terminate();
      } else if (ws.readyState === WebSocket.OPEN) {
        this.#state = "closing";
        ws.close(1000, reason);
      }
    });
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    this.#awaitingPong = false;
    if (isBinary) {
      this.#log.warn("binary frame from Voice Live ignored");
      return;
    }
    const text = Buffer.isBuffer(data)
      ? data.toString("utf8")
      : Array.isArray(data)
        ? Buffer.concat(data).toString("utf8")
        : Buffer.from(data).toString("utf8");
    const result = parseServerEvent(text);
    if (result.kind === "ignored") return;
    if (result.kind === "unknown") {
      this.#log.debug({ type: result.type }, "unhandled Voice Live event");
      return;
    }
    if (result.kind === "invalid") {
      this.#log.warn({ reason: result.reason }, "malformed Voice Live event ignored");
      // The response is over whatever its payload said; never leave it marked active.
      if (result.type === "response.done") this.#activeResponseId = undefined;
      return;
    }
    if (result.warnings.length > 0) {
      this.#log.debug(
        { type: result.event.type, warnings: result.warnings },
        "Voice Live event fields ignored",
      );
    }
    const event = result.event;
    switch (event.type) {
      case "response.audio.delta": {
        this.#audioProduced = true;
        const pcm = this.#decoder.decode(event.delta);
        if (pcm === undefined) {
          this.#log.warn(
            { responseId: event.response_id, chars: event.delta.length },
            "audio delta with bad base64 ignored",
          );
          return;
        }
        this.emit("audio", event, pcm);
        return;
      }
      case "session.created":
        this.#session = event.session;
        this.#onSessionCreated?.(event.session);
        break;
      case "session.updated": {
        this.#session = event.session;
        const pending = this.#pendingUpdates[0];
        if (pending !== undefined) this.#settleUpdate(pending, { ok: true, session: event.session });
        break;
      }
      case "response.created":
        this.#activeResponseId = event.response.id;
        break;
      case "response.done":
        if (this.#activeResponseId === event.response.id) this.#activeResponseId = undefined;
        break;
      case "error":
        this.#onError(event);
        break;
    }
    this.emit("event", event);
  }

  #onError(event: ErrorEvent): void {
    const { error } = event;
    const eventId = error.event_id ?? undefined;
    const clientEvent = eventId === undefined ? undefined : this.#sentTypes.get(eventId);
    const context = { code: error.code, errorType: error.type, param: error.param, eventId, clientEvent };
    if (error.code === "response_cancel_not_active") {
      this.#log.debug(context, "Voice Live: no response to cancel");
    } else {
      this.#log.warn({ ...context, message: error.message.slice(0, 500) }, "Voice Live error");
    }
    // A rejected session.update: matched by id, or the oldest one when the server omits ids.
    const pending =
      eventId === undefined
        ? error.type === "invalid_request_error"
          ? this.#pendingUpdates[0]
          : undefined
        : this.#pendingUpdates.find((p) => p.eventId === eventId);
    if (pending !== undefined) {
      this.#settleUpdate(pending, { ok: false, problem: { kind: "rejected", message: error.message } });
    }
  }

  #settleUpdate(pending: PendingUpdate, outcome: ConfigureOutcome): void {
    const index = this.#pendingUpdates.indexOf(pending);
    if (index < 0) return;
    this.#pendingUpdates.splice(index, 1);
    clearTimeout(pending.timer);
    pending.settle(outcome);
  }

  #startPing(ws: WebSocket): void {
    if (this.#pingIntervalMs <= 0) return;
    this.#pingTimer = setInterval(() => {
      if (this.#awaitingPong) {
        this.#log.warn("Voice Live socket unresponsive; dropping it");
        ws.terminate();
        return;
      }
      this.#awaitingPong = true;
      ws.ping();
    }, this.#pingIntervalMs);
    this.#pingTimer.unref();
  }

  #teardown(problem: ConnectionProblem): void {
    this.#state = "closed";
    clearInterval(this.#pingTimer);
    this.#queue?.discard();
    this.#activeResponseId = undefined;
    for (const pending of [...this.#pendingUpdates]) this.#settleUpdate(pending, { ok: false, problem });
  }
}
