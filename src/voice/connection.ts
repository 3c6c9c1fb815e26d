import {
  type DiscordGatewayAdapterCreator,
  getVoiceConnection,
  joinVoiceChannel,
  type Networking,
  type VoiceConnection,
  type VoiceConnectionDisconnectedState,
  VoiceConnectionDisconnectReason,
  type VoiceConnectionState,
  VoiceConnectionStatus,
  type VoiceReceiver,
} from "@discordjs/voice";
import { type Logger, log } from "../log.ts";
import { TypedEmitter } from "../util/typed-emitter.ts";

/** Discord: "Disconnected — channel deleted, kicked, voice server changed or gateway session dropped." */
const CLOSE_DISCONNECTED = 4014;
/** Discord: "E2EE/DAVE protocol required". */
const CLOSE_DAVE_REQUIRED = 4017;
/** The fixed RTP header: the smallest datagram that names an SSRC. */
const RTP_HEADER_BYTES = 12;

export const DAVE_REQUIRED_MESSAGE =
  "Discord closed the voice connection with 4017: end-to-end encryption (DAVE) is required in voice channels. " +
  "Keep @discordjs/voice's daveEncryption on (the default) and make sure the @snazzah/davey native module " +
  "is installed for this platform.";

export interface ManagedVoiceConnectionOptions {
  readonly guildId: string;
  readonly channelId: string;
  readonly adapterCreator: DiscordGatewayAdapterCreator;
  /** @discordjs/voice keeps one connection per (group, guild) process-wide; default "default". */
  readonly group?: string;
  /** After close 4014: how long a move (new Signalling/Connecting) may take before giving up. Default 5000. */
  readonly movedWaitMs?: number;
  /** Rejoins in a row without reaching Ready before giving up. Default 5. */
  readonly maxRejoinAttempts?: number;
  /** First rejoin delay after a Disconnected state; doubles per attempt up to 30 s. Default 1000. */
  readonly rejoinBackoffMs?: number;
  /** Longest time from join, or from losing Ready, to being Ready again. Default 20000. */
  readonly readyTimeoutMs?: number;
  readonly logger?: Logger;
}

export type VoiceEndKind =
  | "left"
  | "kicked"
  | "dave-required"
  | "rejoin-failed"
  | "ready-timeout"
  | "gateway-gone";

/** Why a connection ended: `kind` for code, `message` for people. */
export interface VoiceEnd {
  readonly kind: VoiceEndKind;
  readonly message: string;
  readonly closeCode?: number;
}

export type ManagedVoiceConnectionEvents = {
  /** Ready to send and receive; `reconnected` is true after a resume or rejoin. */
  ready: (info: { readonly reconnected: boolean }) => void;
  /** Lost Ready; either `ready` or `destroyed` follows. */
  reconnecting: (info: { readonly reason: string; readonly attempt: number }) => void;
  /** Emitted once; the connection cannot be used again. */
  destroyed: (end: VoiceEnd) => void;
};

const MAX_BACKOFF_MS = 30_000;

/**
 * One guild's @discordjs/voice connection with the documented recovery policy: resumable closes are
 * left to the library; after 4014 a move gets `movedWaitMs` to show up, else the connection is
 * destroyed; other disconnects are rejoined with bounded attempts and exponential backoff; 4017
 * (DAVE required) is fatal. Joined with selfDeaf and selfMute off, so the bot hears and speaks.
 */
export class ManagedVoiceConnection extends TypedEmitter<ManagedVoiceConnectionEvents> {
  readonly guildId: string;
  readonly connection: VoiceConnection;
  readonly #joinedChannelId: string;
  readonly #logger: Logger;
  readonly #movedWaitMs: number;
  readonly #maxRejoinAttempts: number;
  readonly #rejoinBackoffMs: number;
  readonly #readyTimeoutMs: number;
  readonly #watchedNetworking = new WeakSet<Networking>();
  #end: VoiceEnd | undefined;
  #everReady = false;
  #movedTimer: NodeJS.Timeout | undefined;
  #rejoinTimer: NodeJS.Timeout | undefined;
  #readyTimer: NodeJS.Timeout | undefined;

  constructor(options: ManagedVoiceConnectionOptions) {
    super();
    this.guildId = options.guildId;
    this.#joinedChannelId = options.channelId;
    this.#logger = (options.logger ?? log).child({ guildId: options.guildId, component: "voice-connection" });
    this.emitterLog = this.#logger;
    this.#movedWaitMs = options.movedWaitMs ?? 5_000;
    this.#maxRejoinAttempts = options.maxRejoinAttempts ?? 5;
    this.#rejoinBackoffMs = options.rejoinBackoffMs ?? 1_000;
    this.#readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
    const group = options.group ?? "default";
    const existing = getVoiceConnection(options.guildId, group);
    if (existing !== undefined && existing.state.status !== VoiceConnectionStatus.Destroyed) {
      throw new Error(
        `guild ${options.guildId} already has a voice connection: leave it before joining again`,
      );
    }
    this.connection = joinVoiceChannel({
      guildId: options.guildId,
      channelId: options.channelId,
      adapterCreator: options.adapterCreator,
      group,
      selfDeaf: false,
      selfMute: false,
    });
    ignoreRuntDatagrams(this.connection.receiver);
    this.connection.on("error", (error) => this.#logger.warn({ err: error }, "voice connection error"));
    this.connection.on("stateChange", (oldState, newState) => this.#onStateChange(oldState, newState));
    this.#armReadyTimer();
    // joinVoiceChannel can fail synchronously (adapter unavailable) before our listener existed.
    if (this.connection.state.status === VoiceConnectionStatus.Disconnected)
      this.#onDisconnected(this.connection.state);
  }

  /** A short description for /status. */
  get status(): string {
    if (this.#end !== undefined) return `destroyed (${this.#end.kind})`;
    const state = this.connection.state;
    switch (state.status) {
      case VoiceConnectionStatus.Ready:
        return "ready";
      case VoiceConnectionStatus.Connecting:
        return this.#everReady ? "reconnecting" : "connecting";
      case VoiceConnectionStatus.Signalling:
        return this.#everReady ? `rejoining (attempt ${this.connection.rejoinAttempts})` : "signalling";
      case VoiceConnectionStatus.Disconnected:
        return isMovedOrKicked(state)
          ? "disconnected (4014), waiting for a channel move"
          : `disconnected, rejoining (attempt ${this.connection.rejoinAttempts + 1} of ${this.#maxRejoinAttempts})`;
    }
    return "destroyed";
  }

  get isReady(): boolean {
    return this.connection.state.status === VoiceConnectionStatus.Ready;
  }

  /** Resolves when Ready (at once if it is); rejects with the end's message if the connection ends first. */
  ready(): Promise<void> {
    if (this.isReady) return Promise.resolve();
    if (this.#end !== undefined) return Promise.reject(new Error(this.#end.message));
    return new Promise((resolve, reject) => {
      const onReady = (): void => {
        this.off("destroyed", onDestroyed);
        resolve();
      };
      const onDestroyed = (end: VoiceEnd): void => {
        this.off("ready", onReady);
        reject(new Error(end.message));
      };
      this.once("ready", onReady);
      this.once("destroyed", onDestroyed);
    });
  }

  /**
   * Joins the same channel again for a fresh voice session (and DAVE session), as DaveRecovery
   * asks when a speaker stays undecryptable. The library re-identifies; `ready` follows.
   */
  rejoin(): void {
    const channelId = this.connection.joinConfig.channelId;
    if (this.#end !== undefined || channelId === null) return;
    this.connection.rejoin({ channelId, selfDeaf: false, selfMute: false });
  }

  /** Leaves the channel and destroys the connection (idempotent). */
  leave(reason = "left the channel"): void {
    this.#finish({ kind: "left", message: reason });
  }

  #onStateChange(oldState: VoiceConnectionState, newState: VoiceConnectionState): void {
    if ("networking" in newState && !this.#watchedNetworking.has(newState.networking)) {
      // The connection reports only 4014; other codes (4017) are visible on the Networking itself.
      this.#watchedNetworking.add(newState.networking);
      newState.networking.on("close", (code) => this.#onNetworkingClose(code));
    }
    // A failed rejoin() goes Disconnected -> Disconnected: that is a new disconnect to handle,
    // unless a rejoin or a move is already being waited for.
    const repeatedDisconnect =
      newState.status === VoiceConnectionStatus.Disconnected &&
      this.#rejoinTimer === undefined &&
      this.#movedTimer === undefined;
    if (oldState.status === newState.status && !repeatedDisconnect) return;
    this.#logger.debug({ from: oldState.status, to: newState.status }, "voice connection state");
    switch (newState.status) {
      case VoiceConnectionStatus.Ready: {
        this.#clearTimers();
        const reconnected = this.#everReady;
        this.#everReady = true;
        this.emit("ready", { reconnected });
        return;
      }
      case VoiceConnectionStatus.Signalling:
      case VoiceConnectionStatus.Connecting:
        clearTimeout(this.#movedTimer);
        this.#movedTimer = undefined;
        this.#armReadyTimer();
        if (oldState.status === VoiceConnectionStatus.Ready) {
          const reason = newState.status === VoiceConnectionStatus.Connecting ? "resuming" : "rejoining";
          this.emit("reconnecting", { reason, attempt: this.connection.rejoinAttempts });
        }
        if (this.connection.rejoinAttempts > this.#maxRejoinAttempts) {
          this.#finish({
            kind: "rejoin-failed",
            message: `could not reconnect to voice after ${this.#maxRejoinAttempts} attempts`,
          });
        }
        return;
      case VoiceConnectionStatus.Disconnected:
        if (oldState.status === VoiceConnectionStatus.Ready) {
          this.emit("reconnecting", {
            reason: describeDisconnect(newState),
            attempt: this.connection.rejoinAttempts,
          });
        }
        this.#onDisconnected(newState);
        return;
      case VoiceConnectionStatus.Destroyed:
        this.#clearTimers();
        this.#end ??= {
          kind: "gateway-gone",
          message: "the voice connection was destroyed outside this bot's control",
        };
        this.#logger.info({ kind: this.#end.kind, closeCode: this.#end.closeCode }, "voice connection ended");
        this.emit("destroyed", this.#end);
        return;
    }
  }

  /** The channel Discord last put the bot in (a moderator's move updates it). */
  get channelId(): string {
    return this.connection.joinConfig.channelId ?? this.#joinedChannelId;
  }

  #onNetworkingClose(code: number): void {
    this.#logger.info({ code }, "voice WebSocket closed");
    if (code === CLOSE_DAVE_REQUIRED) {
      this.#finish({ kind: "dave-required", message: DAVE_REQUIRED_MESSAGE, closeCode: code });
    }
  }

  #onDisconnected(state: VoiceConnectionDisconnectedState): void {
    if (isMovedOrKicked(state)) {
      // A move sends new state and server updates (Signalling/Connecting follows); a kick sends nothing.
      clearTimeout(this.#movedTimer);
      this.#movedTimer = setTimeout(() => {
        this.#movedTimer = undefined;
        if (this.connection.state.status !== VoiceConnectionStatus.Disconnected) return;
        this.#finish({
          kind: "kicked",
          message: "disconnected from voice by Discord (kicked, or the channel was deleted)",
          closeCode: CLOSE_DISCONNECTED,
        });
      }, this.#movedWaitMs);
      return;
    }
    const attempt = this.connection.rejoinAttempts;
    if (attempt >= this.#maxRejoinAttempts) {
      this.#finish({
        kind: "rejoin-failed",
        message: `could not rejoin voice after ${attempt} attempts (${describeDisconnect(state)})`,
      });
      return;
    }
    const delay = Math.min(this.#rejoinBackoffMs * 2 ** attempt, MAX_BACKOFF_MS);
    this.#logger.info(
      { attempt: attempt + 1, delayMs: delay, reason: describeDisconnect(state) },
      "rejoining voice",
    );
    clearTimeout(this.#rejoinTimer);
    this.#rejoinTimer = setTimeout(() => {
      this.#rejoinTimer = undefined;
      if (this.connection.state.status === VoiceConnectionStatus.Disconnected) this.connection.rejoin();
    }, delay);
  }

  /** Not re-armed while running, so a signalling/connecting loop still times out. */
  #armReadyTimer(): void {
    if (this.#readyTimer !== undefined) return;
    this.#readyTimer = setTimeout(() => {
      this.#readyTimer = undefined;
      if (this.isReady) return;
      this.#finish({
        kind: "ready-timeout",
        message: `voice was not ready within ${this.#readyTimeoutMs} ms`,
      });
    }, this.#readyTimeoutMs);
  }

  #clearTimers(): void {
    clearTimeout(this.#movedTimer);
    clearTimeout(this.#rejoinTimer);
    clearTimeout(this.#readyTimer);
    this.#movedTimer = undefined;
    this.#rejoinTimer = undefined;
    this.#readyTimer = undefined;
  }

  #finish(end: VoiceEnd): void {
    if (this.#end !== undefined) return;
    this.#end = end;
    this.#clearTimers();
    if (end.kind !== "left") this.#logger.warn({ kind: end.kind, closeCode: end.closeCode }, end.message);
    if (this.connection.state.status !== VoiceConnectionStatus.Destroyed) this.connection.destroy();
  }
}

/**
 * @discordjs/voice 0.19 reads the SSRC at bytes 8-11 of every datagram longer than 8 bytes, outside
 * its try/catch, so a 9-11 byte datagram (anyone can send one to the bot's UDP port) throws out of
 * the socket's message handler as an uncaught exception. The receiver's handler is a bound instance
 * property the library reads each time it binds a new UDP socket, so wrapping it here, before the
 * first socket exists, covers every reconnect.
 */
function ignoreRuntDatagrams(receiver: VoiceReceiver): void {
  const onUdpMessage = receiver.onUdpMessage;
  receiver.onUdpMessage = (message: Buffer): void => {
    if (message.length >= RTP_HEADER_BYTES) onUdpMessage(message);
  };
}

function isMovedOrKicked(state: VoiceConnectionDisconnectedState): boolean {
  return (
    state.reason === VoiceConnectionDisconnectReason.WebSocketClose && state.closeCode === CLOSE_DISCONNECTED
  );
}

function describeDisconnect(state: VoiceConnectionDisconnectedState): string {
  switch (state.reason) {
    case VoiceConnectionDisconnectReason.WebSocketClose:
      return `voice WebSocket closed (${state.closeCode})`;
    case VoiceConnectionDisconnectReason.AdapterUnavailable:
      return "the gateway could not send the voice state update";
    case VoiceConnectionDisconnectReason.EndpointRemoved:
      return "Discord removed the voice server";
    case VoiceConnectionDisconnectReason.Manual:
      return "disconnected manually";
  }
}
