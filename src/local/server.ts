/**
 * The local Voice Live-compatible server: HTTP and WebSocket on loopback, the service's handshake
 * rules (path, query parameters, api key), one {@link LocalSession} per connection, and the fault
 * controls tests use. It stands in for Azure in tests, in the simulator and as the bot's backend
 * when no endpoint is configured.
 *
 * Authentication: with an api key configured, only the `api-key` header is accepted (the key is
 * compared in constant time). The query parameter `api-key` and `Authorization: Bearer` are ignored,
 * so a client that would put its key in a URL fails here first. Without a key, anything goes.
 * The official SDK sends the key in the query and the header, so it passes.
 * WebSocket permessage-deflate is accepted when the client offers it, as the SDK does.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, STATUS_CODES } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { type RawData, type WebSocket, WebSocketServer } from "ws";
import { type Logger, registerSecret, log as rootLog } from "../log.ts";
import { API_VERSIONS, apiVersionInfo, capabilitiesFor } from "../voicelive/capabilities.ts";
import type {
  ConversationItem,
  ErrorDetails,
  ResponseAudioTimestampDeltaEvent,
  SessionInfo,
} from "../voicelive/protocol.ts";
import { ClientEventLog, type CloseAfter, FaultyTransport } from "./faults.ts";
import { newId } from "./ids.ts";
import type { ReplyMode } from "./reply.ts";
import { LocalSession, type ScriptedToolCall } from "./session.ts";
import type { SessionOrigin } from "./session-types.ts";

export const REALTIME_PATH = "/voice-live/realtime";

export interface LocalVoiceLiveOptions {
  /** 0 (the default) lets the OS pick a free port. */
  readonly port?: number;
  /** Loopback unless told otherwise. */
  readonly host?: string;
  readonly apiKey?: string;
  /** Accepted as `Authorization: Bearer <token>`, the only credential agent mode takes. */
  readonly bearerToken?: string;
  readonly reply?: ReplyMode;
  /** Reply audio streams this many times faster than real time (default 4). */
  readonly speed?: number;
  /** Audio per `response.audio.delta` (default 100 ms). */
  readonly chunkMs?: number;
  readonly logger?: Logger;
}

export interface InjectedError {
  readonly code: string;
  readonly message: string;
  readonly type?: string;
  readonly param?: string;
}

export interface LocalVoiceLiveServer {
  /** `http://127.0.0.1:<port>`: the endpoint to configure a client with. */
  readonly url: string;
  readonly port: number;
  /** Sessions open now. */
  readonly sessions: number;
  /** One log per session ever opened, oldest first: what its client sent. */
  readonly clientEvents: readonly ClientEventLog[];
  /** Every server frame is held back this long (order kept). */
  delayEventsMs: number;
  /**
   * Closes with `code` after `frames` more server frames. `scope: "open"` arms every open session;
   * `"next"` arms the next session to connect (counting from its `session.created`).
   */
  closeAfterEvents(frames: number, code: number, scope?: "open" | "next"): void;
  closeAll(code: number, reason?: string): void;
  /** Drops every connection without a close frame (the client sees 1006). */
  terminateAll(): void;
  /** Sends `text` as-is to every open session (malformed frames). */
  sendRaw(text: string): void;
  emitError(error: InjectedError): void;
  /** Stops reading from every socket (TCP backpressure builds on the client), or resumes. */
  stallReading(stalled: boolean): void;
  /**
   * The next response of any session is this function call instead of speech, as if the model
   * chose the tool; the response after the client's `function_call_output` talks about the output.
   */
  callToolNext(call: ScriptedToolCall): void;
  /**
   * The next user turn committed (by a session whose instructions include `instructionsInclude`,
   * or any) is transcribed as `transcript`: tests decide what was "said". Scripted turns queue.
   */
  transcribeNext(transcript: string, instructionsInclude?: string): void;
  /** The conversation of the most recently opened session, in order, as the server keeps it. */
  conversationItems(): readonly ConversationItem[];
  /** The effective configuration of the most recently opened session (instructions, voice, tools). */
  sessionInfo(): SessionInfo | undefined;
  /** The word timestamps the most recently opened session sent (the first thousand). */
  wordTimestampsSent(): readonly ResponseAudioTimestampDeltaEvent[];
  close(): Promise<void>;
}

interface Connection {
  readonly ws: WebSocket;
  readonly session: LocalSession;
  readonly transport: FaultyTransport;
}

/** Azure caps one append at 15 MiB of JSON. */
const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;
const CLOSE_GRACE_MS = 1000;

class HandshakeError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function sameSecret(given: string, expected: string): boolean {
  // Hashing first gives equal lengths, so the comparison leaks neither content nor length.
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

function notFoundMessage(path: string): string {
  return `Nothing at ${path.slice(0, 100)}; Voice Live is at ${REALTIME_PATH}`;
}

/** The request's URL, or undefined when it does not parse. Never log it whole: clients put keys in it. */
function requestUrl(req: IncomingMessage): URL | undefined {
  return URL.parse(req.url ?? "/", "http://localhost") ?? undefined;
}

function rawToText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString("utf8");
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  return Buffer.from(data).toString("utf8");
}

class LocalVoiceLive implements LocalVoiceLiveServer {
  readonly clientEvents: ClientEventLog[] = [];
  delayEventsMs = 0;
  readonly #options: LocalVoiceLiveOptions;
  readonly #log: Logger;
  readonly #http: Server;
  readonly #wss: WebSocketServer;
  readonly #connections = new Set<Connection>();
  #nextCloseAfter: CloseAfter | undefined;
  #stalled = false;
  readonly #toolCalls: ScriptedToolCall[] = [];
  readonly #transcripts: { readonly transcript: string; readonly instructionsInclude?: string }[] = [];
  #latestSession: LocalSession | undefined;
  #port = 0;

  constructor(options: LocalVoiceLiveOptions) {
    this.#options = options;
    this.#log = (options.logger ?? rootLog).child({ component: "local-voicelive" });
    this.#wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: true,
      maxPayload: MAX_PAYLOAD_BYTES,
    });
    this.#http = createServer((req, res) => {
      const { status, message } = this.#plainRequest(req);
      res.writeHead(status, { "content-type": "application/json" }).end(errorBody(status, message));
    });
    this.#http.on("upgrade", (req, socket, head) => this.#upgrade(req, socket, head));
    this.#http.on("clientError", (error, socket) => {
      this.#log.debug({ err: error }, "malformed HTTP request");
      socket.destroy();
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  get port(): number {
    return this.#port;
  }

  get sessions(): number {
    return this.#connections.size;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#http.once("error", reject);
      this.#http.listen(this.#options.port ?? 0, this.#options.host ?? "127.0.0.1", () => {
        this.#http.off("error", reject);
        resolve();
      });
    });
    this.#port = (this.#http.address() as AddressInfo).port;
    this.#log.info(
      { port: this.#port, reply: this.#options.reply ?? "echo" },
      "local Voice Live server listening",
    );
  }

  closeAfterEvents(frames: number, code: number, scope: "open" | "next" = "open"): void {
    if (scope === "next") this.#nextCloseAfter = { frames, code };
    else for (const c of this.#connections) c.transport.closeAfter({ frames, code });
  }

  closeAll(code: number, reason = "closed by the local server"): void {
    for (const c of this.#connections) c.transport.close(code, reason);
  }

  terminateAll(): void {
    for (const c of this.#connections) c.transport.terminate();
  }

  sendRaw(text: string): void {
    for (const c of this.#connections) c.transport.sendRaw(text);
  }

  emitError(error: InjectedError): void {
    const details: Omit<ErrorDetails, "type"> & { type?: string } = {
      ...error,
      type: error.type ?? "server_error",
    };
    for (const c of this.#connections) c.session.emitError(details);
  }

  callToolNext(call: ScriptedToolCall): void {
    this.#toolCalls.push(call);
  }

  transcribeNext(transcript: string, instructionsInclude?: string): void {
    this.#transcripts.push({ transcript, instructionsInclude });
  }

  #takeTranscript(instructions: string): string | undefined {
    const at = this.#transcripts.findIndex(
      (t) => t.instructionsInclude === undefined || instructions.includes(t.instructionsInclude),
    );
    return at < 0 ? undefined : this.#transcripts.splice(at, 1)[0]!.transcript;
  }

  conversationItems(): readonly ConversationItem[] {
    return this.#latestSession?.items() ?? [];
  }

  sessionInfo(): SessionInfo | undefined {
    return this.#latestSession?.info;
  }

  wordTimestampsSent(): readonly ResponseAudioTimestampDeltaEvent[] {
    return this.#latestSession?.wordTimestamps ?? [];
  }

  stallReading(stalled: boolean): void {
    this.#stalled = stalled;
    for (const c of this.#connections) {
      if (stalled) c.ws.pause();
      else c.ws.resume();
    }
  }

  async close(): Promise<void> {
    const closing = [...this.#connections].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.ws.readyState === c.ws.CLOSED) return resolve();
          c.ws.once("close", () => resolve());
          c.transport.close(1001, "Server shutting down");
          setTimeout(() => c.ws.terminate(), CLOSE_GRACE_MS).unref();
        }),
    );
    await Promise.all(closing);
    this.#wss.close();
    this.#http.closeAllConnections();
    await new Promise<void>((resolve) => this.#http.close(() => resolve()));
    this.#log.info({ port: this.#port }, "local Voice Live server closed");
  }

  #plainRequest(req: IncomingMessage): { status: number; message: string } {
    const path = requestUrl(req)?.pathname ?? "(malformed)";
    if (path !== REALTIME_PATH) return { status: 404, message: notFoundMessage(path) };
    return { status: 426, message: `${REALTIME_PATH} takes WebSocket connections only` };
  }

  /**
   * Credentials as the service takes them: the api-key header (a key in the query alone is not
   * enough here), or a bearer token. Agent mode takes Entra ID only [Learn
   * how-to-voice-agent-integration], so a key there is refused whatever its value.
   */
  #checkCredentials(req: IncomingMessage, agentMode: boolean): void {
    const key = req.headers["api-key"];
    const authorization = req.headers.authorization;
    if (agentMode && key !== undefined) {
      throw new HandshakeError(
        401,
        "Key-based authentication is not supported in agent mode: use a Microsoft Entra ID bearer token",
      );
    }
    const { apiKey, bearerToken } = this.#options;
    if (apiKey === undefined && bearerToken === undefined) return;
    if (bearerToken !== undefined && typeof authorization === "string") {
      if (sameSecret(authorization, `Bearer ${bearerToken}`)) return;
      throw new HandshakeError(401, "Access denied: the bearer token is not valid");
    }
    if (agentMode) {
      throw new HandshakeError(401, "Access denied: agent mode needs a Microsoft Entra ID bearer token");
    }
    if (apiKey === undefined || typeof key !== "string" || !sameSecret(key, apiKey)) {
      throw new HandshakeError(401, "Access denied: a valid key is required in the api-key header");
    }
  }

  /** Checks the handshake as the service does; returns the session's origin or throws a HandshakeError. */
  #admit(req: IncomingMessage): SessionOrigin {
    const url = requestUrl(req);
    if (url === undefined) throw new HandshakeError(400, "Malformed request URL");
    if (url.pathname !== REALTIME_PATH) throw new HandshakeError(404, notFoundMessage(url.pathname));
    const query = url.searchParams;
    const model = query.get("model") ?? undefined;
    const agentName = query.get("agent-name") ?? undefined;
    const agentProject = query.get("agent-project-name") ?? undefined;
    const agentMode = model === undefined && agentName !== undefined;
    this.#checkCredentials(req, agentMode);
    const apiVersion = query.get("api-version");
    if (apiVersion === null || apiVersion === "")
      throw new HandshakeError(400, "The api-version query parameter is required");
    // Every version Microsoft documents, including the v1 label (capabilities.ts).
    if (apiVersionInfo(apiVersion) === undefined) {
      throw new HandshakeError(
        400,
        `Unsupported api-version ${apiVersion.slice(0, 40)}: use one of ${API_VERSIONS.map((v) => v.id).join(", ")}`,
      );
    }
    if (model === undefined && (agentName === undefined || agentProject === undefined)) {
      throw new HandshakeError(
        400,
        "Either the model query parameter or both agent-name and agent-project-name are required",
      );
    }
    const needs = capabilitiesFor({ model, apiVersion, agentMode }).requires;
    if (needs !== undefined && !(apiVersionInfo(apiVersion)?.features.includes(needs) ?? false)) {
      throw new HandshakeError(400, `Model ${model} is not available at api-version ${apiVersion}`);
    }
    return { id: newId("sess"), apiVersion, model, agentName: model === undefined ? agentName : undefined };
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", (error) => this.#log.debug({ err: error }, "socket error during the handshake"));
    let origin: SessionOrigin;
    try {
      origin = this.#admit(req);
    } catch (error) {
      if (!(error instanceof HandshakeError)) throw error;
      this.#log.info({ status: error.status, path: requestUrl(req)?.pathname }, "refused a connection");
      const body = errorBody(error.status, error.message);
      socket.end(
        `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status]}\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, origin));
  }

  #accept(ws: WebSocket, origin: SessionOrigin): void {
    const log = this.#log.child({ sessionId: origin.id });
    const traffic = new ClientEventLog(origin.id);
    this.clientEvents.push(traffic);
    const transport = new FaultyTransport(ws, log, () => this.delayEventsMs);
    const session = new LocalSession(
      {
        origin,
        reply: this.#options.reply ?? "echo",
        speed: this.#options.speed ?? 4,
        chunkMs: this.#options.chunkMs ?? 100,
        nextToolCall: () => this.#toolCalls.shift(),
        nextTranscript: (instructions) => this.#takeTranscript(instructions),
        logger: log,
      },
      transport,
      traffic,
    );
    this.#latestSession = session;
    const connection: Connection = { ws, session, transport };
    this.#connections.add(connection);
    log.info(
      { model: origin.model, agent: origin.agentName, apiVersion: origin.apiVersion },
      "session opened",
    );

    ws.on("message", (data, isBinary) => {
      if (isBinary) session.handleBinary();
      else session.handleText(rawToText(data));
    });
    ws.on("error", (error) => log.warn({ err: error }, "WebSocket error"));
    ws.on("close", (code) => {
      this.#connections.delete(connection);
      traffic.open = false;
      transport.dispose();
      session.dispose();
      log.info({ code }, "session closed");
    });

    if (this.#nextCloseAfter !== undefined) {
      transport.closeAfter(this.#nextCloseAfter);
      this.#nextCloseAfter = undefined;
    }
    if (this.#stalled) ws.pause();
    session.open();
  }
}

function errorBody(status: number, message: string): string {
  return JSON.stringify({ error: { code: String(status), message } });
}

/** Starts a local Voice Live server and resolves once it is listening. */
export async function startLocalVoiceLiveServer(
  options: LocalVoiceLiveOptions = {},
): Promise<LocalVoiceLiveServer> {
  if (options.speed !== undefined && !(options.speed > 0))
    throw new RangeError("speed must be greater than 0");
  if (options.chunkMs !== undefined && !(options.chunkMs >= 10))
    throw new RangeError("chunkMs must be at least 10");
  registerSecret(options.apiKey);
  registerSecret(options.bearerToken);
  const server = new LocalVoiceLive(options);
  await server.listen();
  return server;
}
