import type { TokenCredential } from "@azure/identity";
import type { AzureVoiceLiveConfig } from "../config.ts";
import { type Logger, log } from "../log.ts";
import { TypedEmitter } from "../util/typed-emitter.ts";
import { type ConnectionAuth, createAuth } from "./auth.ts";
import { type BackoffPolicy, backoffDelay, DEFAULT_BACKOFF } from "./backoff.ts";
import type { SessionTarget } from "./capabilities.ts";
import { VoiceLiveClient } from "./client.ts";
import { type ConnectionProblem, classifyProblem, type Verdict } from "./failure.ts";
import type {
  ClientEventType,
  ConversationItem,
  ResponseCreateParams,
  ServerEvent,
  ServerEventType,
  SessionConfig,
  SessionInfo,
} from "./protocol.ts";
import {
  type BudgetWaitListener,
  type ConnectionBudget,
  type LimiterClock,
  realClock,
  sharedConnectionLimiter,
} from "./rate-limiter.ts";
import { diffSessionConfig, validateSessionConfig } from "./session-config.ts";
import type { SessionState, SessionUpdateOutcome, VoiceLiveSessionEvents } from "./session-events.ts";
import { buildVoiceLiveUrl } from "./url.ts";

/**
 * A Voice Live session that stays up: connect -> `session.created` -> `session.update` ->
 * `session.updated`; on an unexpected drop it backs off (exponential, full jitter, 30 s cap),
 * reconnects and re-applies the configuration; auth and policy failures are never retried; new
 * connections draw from one rate limiter per endpoint; before the service's 60-minute limit it
 * opens a fresh session and swaps over (make before break). Audio offered while no socket is up
 * is dropped and counted, never queued.
 */

export interface VoiceLiveSessionOptions {
  readonly azure: AzureVoiceLiveConfig;
  /** The full configuration, applied on every (re)connect. */
  readonly session: SessionConfig;
  /** Entra ID credential; without one and without an API key, DefaultAzureCredential. */
  readonly credential?: TokenCredential;
  /** Agent mode: continue this agent conversation. */
  readonly conversationId?: string;
  /** New connections per minute for the shared per-endpoint limiter. Default 30. */
  readonly connectionsPerMinute?: number;
  /** Overrides the shared limiter (tests). */
  readonly limiter?: ConnectionBudget;
  /** Told how long a connection will wait for the connection budget, whenever one must wait. */
  readonly onConnectionWait?: BudgetWaitListener;
  /** Age at which the session is rolled over. Default 55 minutes (the service allows 60). */
  readonly sessionMaxMs?: number;
  readonly connectTimeoutMs?: number;
  readonly configureTimeoutMs?: number;
  readonly pingIntervalMs?: number;
  readonly maxPayloadBytes?: number;
  readonly backoff?: BackoffPolicy;
  /** Consecutive failed attempts before giving up. Default 10. */
  readonly maxAttempts?: number;
  readonly random?: () => number;
  /** Passed to every connection: told the type of each client event sent. */
  readonly onClientEvent?: (type: ClientEventType) => void;
  /** Sleeps for backoff (tests inject a fast one). */
  readonly clock?: LimiterClock;
  readonly logger?: Logger;
}

export type StartOutcome =
  | { readonly ok: true; readonly session: SessionInfo }
  | { readonly ok: false; readonly message: string };

type Established =
  | {
      readonly ok: true;
      readonly client: VoiceLiveClient;
      readonly session: SessionInfo;
      readonly attempts: number;
    }
  | { readonly ok: false; readonly verdict: Verdict };

const CLOSED: Verdict = { outcome: "normal", message: "session closed" };

export class VoiceLiveSession extends TypedEmitter<VoiceLiveSessionEvents> {
  readonly #url: string;
  readonly #auth: ConnectionAuth;
  readonly #agentMode: boolean;
  /** What the capability table checks every configuration against. */
  readonly #target: SessionTarget;
  readonly #limiter: ConnectionBudget;
  readonly #sessionMaxMs: number;
  readonly #backoff: BackoffPolicy;
  readonly #maxAttempts: number;
  readonly #random: () => number;
  readonly #clock: LimiterClock;
  readonly #options: VoiceLiveSessionOptions;
  readonly #log: Logger;

  #state: SessionState = "idle";
  /** The configuration wanted; `#clientConfig` is what the current client has applied. */
  #config: SessionConfig;
  #clientConfig: SessionConfig | undefined;
  #client: VoiceLiveClient | undefined;
  /** Clients being connected (first connect, reconnect or rollover), closed if the session closes. */
  readonly #connecting = new Set<VoiceLiveClient>();
  #detachClient: (() => void) | undefined;
  #abort = new AbortController();
  #rolloverTimer: NodeJS.Timeout | undefined;
  #rolloverWhenIdle: string | undefined;
  #rollingOver = false;
  #droppedWhileDownMs = 0;
  #droppedByRetiredClientsMs = 0;
  #connections = 0;
  #updates: Promise<unknown> = Promise.resolve();
  /** What each newly configured client was given, until it is adopted. */
  readonly #pendingClientConfig = new WeakMap<VoiceLiveClient, SessionConfig>();

  constructor(options: VoiceLiveSessionOptions) {
    super();
    this.#options = options;
    this.#url = buildVoiceLiveUrl(
      options.azure,
      options.conversationId === undefined ? {} : { conversationId: options.conversationId },
    );
    this.#auth = createAuth(options.azure, options.credential);
    this.#agentMode = options.azure.agent !== undefined;
    this.#target = {
      model: this.#agentMode ? undefined : options.azure.model,
      apiVersion: options.azure.apiVersion,
      agentMode: this.#agentMode,
    };
    this.#limiter =
      options.limiter ?? sharedConnectionLimiter(options.azure.endpoint, options.connectionsPerMinute ?? 30);
    this.#sessionMaxMs = options.sessionMaxMs ?? 55 * 60_000;
    this.#backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.#maxAttempts = options.maxAttempts ?? 10;
    this.#random = options.random ?? Math.random;
    this.#clock = options.clock ?? realClock;
    this.#log = options.logger ?? log.child({ component: "voicelive" });
    this.emitterLog = this.#log;
    this.#config = options.session;
  }

  get state(): SessionState {
    return this.#state;
  }

  get config(): SessionConfig {
    return this.#config;
  }

  /** The effective session the server last reported. */
  get sessionInfo(): SessionInfo | undefined {
    return this.#client?.session;
  }

  get responseActive(): boolean {
    return this.#client?.activeResponseId !== undefined;
  }

  get activeResponseId(): string | undefined {
    return this.#client?.activeResponseId;
  }

  /** Whether the current session has spoken (its voice is then fixed). */
  get audioProduced(): boolean {
    return this.#client?.audioProduced ?? false;
  }

  /** All audio not delivered: socket backpressure plus audio offered while disconnected. */
  get droppedAudioMs(): number {
    return this.#droppedWhileDownMs + this.#droppedByRetiredClientsMs + (this.#client?.droppedAudioMs ?? 0);
  }

  /** Successful connections so far (1 after start; +1 per reconnect or rollover). */
  get connections(): number {
    return this.#connections;
  }

  /** Bytes waiting in the current client's send queue. */
  get queuedBytes(): number {
    return this.#client?.queuedBytes ?? 0;
  }

  /** Connects and configures; resolves once ready, or when giving up (with the reason). */
  async start(): Promise<StartOutcome> {
    if (this.#state !== "idle") return { ok: false, message: `session already ${this.#state}` };
    const valid = validateSessionConfig(this.#config, { target: this.#target });
    if (!valid.ok) return { ok: false, message: valid.problems.join("; ") };
    this.#setState("connecting");
    const result = await this.#establish(undefined, true);
    if (!result.ok) {
      if (!this.#stopping()) this.#fail(result.verdict.message);
      return { ok: false, message: result.verdict.message };
    }
    this.#adopt(result.client);
    this.#setState("ready");
    return { ok: true, session: result.session };
  }

  /** Audio for `input_audio_buffer.append`; dropped (and counted) while not connected. */
  appendAudio(audio: Int16Array | Uint8Array): void {
    const client = this.#client;
    if (client !== undefined && this.#state === "ready" && client.appendAudio(audio)) return;
    this.#droppedWhileDownMs += audio.byteLength / this.#inputBytesPerMs();
  }

  commitInput(): boolean {
    return this.#client?.commitInput() !== undefined;
  }

  clearInput(): boolean {
    return this.#client?.clearInput() !== undefined;
  }

  createResponse(response?: ResponseCreateParams, additionalInstructions?: string): boolean {
    return this.#client?.createResponse(response, additionalInstructions) !== undefined;
  }

  /** Sends `response.cancel` only while a response is active; false otherwise. */
  cancelResponse(): boolean {
    const client = this.#client;
    const active = client?.activeResponseId;
    if (client === undefined || active === undefined) return false;
    return client.cancelResponse(active) !== undefined;
  }

  createItem(item: ConversationItem, previousItemId?: string): boolean {
    return this.#client?.createItem(item, previousItemId) !== undefined;
  }

  truncateItem(itemId: string, audioEndMs: number, contentIndex = 0): boolean {
    return this.#client?.truncateItem(itemId, audioEndMs, contentIndex) !== undefined;
  }

  deleteItem(itemId: string): boolean {
    return this.#client?.deleteItem(itemId) !== undefined;
  }

  retrieveItem(itemId: string): boolean {
    return this.#client?.retrieveItem(itemId) !== undefined;
  }

  /**
   * Applies a new full configuration: only the changed fields are sent; a change the running
   * session cannot take (the voice after it has spoken) opens a fresh session. Calls are serialized.
   */
  updateSession(config: SessionConfig): Promise<SessionUpdateOutcome> {
    const run = this.#updates.then(() => this.#update(config));
    this.#updates = run.catch(() => undefined);
    return run;
  }

  /** Closes the socket with 1000 and stops every retry and timer. */
  async close(): Promise<void> {
    if (this.#state === "closed" || this.#state === "closing") return;
    const failed = this.#state === "failed";
    this.#setState("closing");
    this.#abort.abort();
    clearTimeout(this.#rolloverTimer);
    const clients = [...this.#connecting];
    if (this.#client !== undefined) clients.push(this.#client);
    this.#retire();
    await Promise.all(clients.map((client) => client.close("session closed")));
    this.#setState(failed ? "failed" : "closed");
  }

  async #update(config: SessionConfig): Promise<SessionUpdateOutcome> {
    const valid = validateSessionConfig(config, { target: this.#target });
    if (!valid.ok) return { outcome: "invalid", problems: valid.problems };
    this.#config = config;
    const client = this.#client;
    if (client === undefined || this.#state !== "ready" || this.#clientConfig === undefined) {
      return { outcome: "deferred" };
    }
    const accepted = this.#clientConfig;
    const change = diffSessionConfig(accepted, config, { audioProduced: client.audioProduced });
    if (change.apply === "none") return { outcome: "unchanged" };
    if (change.apply === "restart") {
      const reason = change.restartReason ?? "configuration change";
      const swapped = await this.#rollover(reason);
      return swapped
        ? { outcome: "restarted" }
        : { outcome: "rejected", message: `could not restart: ${reason}` };
    }
    this.#log.info({ changed: change.changed }, "applying session update");
    const result = await client.configure(change.patch);
    if (result.ok) {
      if (this.#client === client) this.#clientConfig = config;
      return { outcome: "applied" };
    }
    switch (result.problem.kind) {
      case "rejected":
        // Keep a configuration the service accepts for the next reconnect.
        if (this.#config === config) this.#config = accepted;
        return { outcome: "rejected", message: classifyProblem(result.problem).message };
      case "timeout":
        // Unanswered, not refused: the next connection applies it in full.
        return { outcome: "rejected", message: classifyProblem(result.problem).message };
      default:
        // The socket went while the update was in flight; the reconnect applies `config` in full.
        return { outcome: "deferred" };
    }
  }

  /**
   * Connects a client and applies the configuration, retrying retryable failures with backoff.
   * `dropReason` set means a connection was just lost: back off before the first attempt too.
   */
  async #establish(dropReason: string | undefined, announce: boolean): Promise<Established> {
    let failures = 0;
    let reason = dropReason;
    /** A floor for the next delay, from an HTTP Retry-After. */
    let retryAfterMs = 0;
    const signal = this.#abort.signal;
    for (;;) {
      if (reason !== undefined) {
        const attempt = dropReason === undefined ? failures : failures + 1;
        const delayMs = Math.max(backoffDelay(attempt - 1, this.#backoff, this.#random), retryAfterMs);
        this.#log.warn({ attempt, delayMs, reason }, "Voice Live: retrying");
        if (announce) this.emit("reconnecting", { attempt, delayMs, reason });
        if (!(await this.#clock.sleep(delayMs, signal))) return { ok: false, verdict: CLOSED };
      }
      if (!(await this.#limiter.acquire(signal, this.#options.onConnectionWait)))
        return { ok: false, verdict: CLOSED };
      const client = this.#newClient();
      this.#connecting.add(client);
      const problem = await this.#connectAndConfigure(client);
      this.#connecting.delete(client);
      if (problem === undefined) {
        this.#connections += 1;
        return { ok: true, client, session: client.session!, attempts: failures + 1 };
      }
      void client.close("connection attempt failed");
      if (signal.aborted) return { ok: false, verdict: CLOSED };
      const verdict = classifyProblem(problem);
      this.#log.warn(
        { requestId: client.requestId, outcome: verdict.outcome },
        `Voice Live connection failed: ${verdict.message}`,
      );
      if (verdict.outcome === "fatal") return { ok: false, verdict };
      failures += 1;
      if (failures >= this.#maxAttempts) {
        return {
          ok: false,
          verdict: { outcome: "fatal", message: `${verdict.message} (gave up after ${failures} attempts)` },
        };
      }
      retryAfterMs = verdict.retryAfterMs ?? 0;
      reason = verdict.message;
    }
  }

  async #connectAndConfigure(client: VoiceLiveClient): Promise<ConnectionProblem | undefined> {
    const connected = await client.connect();
    if (!connected.ok) return connected.problem;
    const config = this.#config;
    const configured = await client.configure(config);
    if (!configured.ok) return configured.problem;
    this.#pendingClientConfig.set(client, config);
    return undefined;
  }

  #newClient(): VoiceLiveClient {
    const options = this.#options;
    return new VoiceLiveClient({
      url: this.#url,
      auth: this.#auth,
      inputBytesPerMs: this.#inputBytesPerMs(),
      logger: this.#log.child({ connection: this.#connections + 1 }),
      ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
      ...(options.configureTimeoutMs === undefined ? {} : { configureTimeoutMs: options.configureTimeoutMs }),
      ...(options.pingIntervalMs === undefined ? {} : { pingIntervalMs: options.pingIntervalMs }),
      ...(options.maxPayloadBytes === undefined ? {} : { maxPayloadBytes: options.maxPayloadBytes }),
      ...(options.onClientEvent === undefined ? {} : { onClientEvent: options.onClientEvent }),
    });
  }

  #inputBytesPerMs(): number {
    const format = this.#config.input_audio_format ?? "pcm16";
    if (format !== "pcm16") return 8;
    return ((this.#config.input_audio_sampling_rate ?? 24000) * 2) / 1000;
  }

  /** Makes a configured client the current one and routes its events. */
  #adopt(client: VoiceLiveClient): void {
    this.#retire();
    this.#client = client;
    this.#clientConfig = this.#pendingClientConfig.get(client);
    this.#rolloverWhenIdle = undefined;
    const offEvent = client.on("event", (event) => this.#forward(event));
    const offAudio = client.on("audio", (event, pcm) => this.emit("response.audio.delta", event, pcm));
    const offClose = client.on("close", (problem, requested) =>
      this.#onClientClose(client, problem, requested),
    );
    this.#detachClient = () => {
      offEvent();
      offAudio();
      offClose();
    };
    clearTimeout(this.#rolloverTimer);
    this.#rolloverTimer = setTimeout(() => void this.#rollover("session time limit"), this.#sessionMaxMs);
    this.#rolloverTimer.unref();
    // A change made while connecting; queued, so it runs after the caller has marked the session ready.
    if (this.#clientConfig !== this.#config) void this.updateSession(this.#config);
  }

  /** Detaches the current client (its drops stay counted); the caller closes it. */
  #retire(): void {
    const client = this.#client;
    if (client === undefined) return;
    this.#detachClient?.();
    this.#detachClient = undefined;
    this.#droppedByRetiredClientsMs += client.droppedAudioMs;
    this.#client = undefined;
    this.#clientConfig = undefined;
  }

  #forward(event: ServerEvent): void {
    (this.emit as (name: ServerEventType, event: ServerEvent) => void)(event.type, event);
    if (event.type === "response.done" && this.#rolloverWhenIdle !== undefined) {
      const reason = this.#rolloverWhenIdle;
      this.#rolloverWhenIdle = undefined;
      void this.#rollover(reason);
    }
  }

  #onClientClose(client: VoiceLiveClient, problem: ConnectionProblem, requested: boolean): void {
    if (client !== this.#client || requested) return;
    this.#retire();
    clearTimeout(this.#rolloverTimer);
    if (this.#state === "closing" || this.#state === "closed") return;
    const verdict = classifyProblem(problem);
    if (verdict.outcome === "fatal") {
      this.#fail(verdict.message);
      return;
    }
    this.#log.warn({ reason: verdict.message }, "Voice Live connection lost");
    this.#setState("reconnecting");
    // A rollover already connecting a fresh session finishes the job.
    if (this.#rollingOver) {
      this.emit("reconnecting", { attempt: 1, delayMs: 0, reason: verdict.message });
      return;
    }
    void this.#reconnect(verdict.message);
  }

  async #reconnect(reason: string): Promise<void> {
    const result = await this.#establish(reason, true);
    if (this.state !== "reconnecting") {
      if (result.ok) void result.client.close("session no longer wanted");
      return;
    }
    if (!result.ok) {
      this.#fail(result.verdict.message);
      return;
    }
    this.#adopt(result.client);
    this.#setState("ready");
    this.emit("reconnected", { attempts: result.attempts, session: result.session });
  }

  /** Opens a fresh session and swaps to it; true when swapped. Waits for an active response. */
  async #rollover(reason: string): Promise<boolean> {
    if (this.#state !== "ready" || this.#rollingOver) return false;
    if (reason === "session time limit" && this.responseActive) {
      this.#rolloverWhenIdle = reason;
      return false;
    }
    this.#rollingOver = true;
    this.#log.info({ reason }, "Voice Live: opening a fresh session");
    const result = await this.#establish(undefined, false);
    this.#rollingOver = false;
    const state = this.state;
    if (this.#stopping()) {
      if (result.ok) void result.client.close("session no longer wanted");
      return false;
    }
    if (!result.ok) {
      this.#log.error({ reason: result.verdict.message }, "Voice Live: could not open a fresh session");
      if (state === "reconnecting") this.#fail(result.verdict.message);
      return false;
    }
    const previous = this.#client;
    this.#adopt(result.client);
    if (previous !== undefined) void previous.close("session rollover");
    if (state === "reconnecting") {
      this.#setState("ready");
      this.emit("reconnected", { attempts: result.attempts, session: result.session });
    } else {
      this.emit("rollover", { reason, session: result.session });
    }
    return true;
  }

  #fail(message: string): void {
    this.#log.error({ reason: message }, "Voice Live session failed");
    this.#abort.abort();
    clearTimeout(this.#rolloverTimer);
    const client = this.#client;
    this.#retire();
    if (client !== undefined) void client.close("session failed");
    this.#setState("failed");
    this.emit("failed", { message });
  }

  /** Read through a method: TypeScript would otherwise keep a narrowing from before an await. */
  #stopping(): boolean {
    const state: SessionState = this.#state;
    return state === "closing" || state === "closed" || state === "failed";
  }

  #setState(state: SessionState): void {
    const previous = this.#state;
    if (previous === state) return;
    this.#state = state;
    this.emit("state", state, previous);
  }
}
