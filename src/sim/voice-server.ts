import { randomBytes, randomInt } from "node:crypto";
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import type { IncomingMessage } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import type { DiscordGatewayAdapterCreator } from "@discordjs/voice";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import { OpusFrameEncoder } from "../audio/opus.ts";
import { type Logger, log } from "../log.ts";
import { paceFrames } from "./frame-pacer.ts";
import {
  createLoopbackAdapter,
  type GatewayVoiceStateRequest,
  type LoopbackAdapter,
} from "./gateway-adapter.ts";
import {
  discoveryResponse,
  ENCRYPTION_MODE,
  isSilenceFrame,
  KEEPALIVE_BYTES,
  parseDiscoveryRequest,
  RtpOpener,
  RtpSealer,
  type RtpSenderState,
  SECRET_KEY_BYTES,
  SILENCE_FRAME,
} from "./rtp.ts";
import { loopbackTlsIdentity, type TlsIdentity } from "./tls.ts";

/*
 * A loopback Discord voice server (voice gateway v8 over TLS WebSocket, plus UDP) that the real
 * @discordjs/voice client can join, speak to and hear. Transport encryption is
 * aead_aes256_gcm_rtpsize; DAVE is declined by answering dave_protocol_version 0. Sessions are
 * keyed by guild, so one server carries many guilds at once. The protocol notes this follows are in
 * the project's discord-voice-loopback spec; comments here say only why a choice was made.
 */

const OP = {
  Identify: 0,
  SelectProtocol: 1,
  Ready: 2,
  Heartbeat: 3,
  SessionDescription: 4,
  Speaking: 5,
  HeartbeatAck: 6,
  Resume: 7,
  Hello: 8,
  Resumed: 9,
  ClientsConnect: 11,
  ClientDisconnect: 13,
} as const;

const CLOSE = {
  DecodeError: 4002,
  NotAuthenticated: 4003,
  AuthenticationFailed: 4004,
  AlreadyAuthenticated: 4005,
  SessionNoLongerValid: 4006,
  UnknownEncryptionMode: 4016,
} as const;

const DISCORD_HEARTBEAT_INTERVAL_MS = 41_250;
const MAX_UNACKED_MESSAGES = 1_000;
const MAX_WS_PAYLOAD_BYTES = 64 * 1024;
/** Close codes `ws` lets a server send; 1006 can only be produced by dropping the socket. */
const SENDABLE_LOW_CLOSE_CODES = new Set([
  1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
]);

export interface LoopbackVoiceServerOptions {
  /** Sent in Hello; Discord's documented example is 41250 ms, tests use a few hundred. */
  readonly heartbeatIntervalMs?: number;
  readonly tls?: TlsIdentity;
  /** Keep every packet the bot sends for botAudio() (default true; a long benchmark turns it off). */
  readonly recordBotAudio?: boolean;
  /** Entries kept in opLog before the oldest half is dropped (default 10 000). */
  readonly opLogLimit?: number;
  readonly logger?: Logger;
}

/** One packet the bot sent, decrypted. */
export interface BotPacket {
  readonly guildId: string;
  readonly opus: Buffer;
  readonly sequence: number;
  readonly rtpTimestamp: number;
  readonly ssrc: number;
  readonly nonce: number;
  readonly isSilence: boolean;
  /** performance.now() when the datagram arrived. */
  readonly receivedAt: number;
}

/** An op 5 the bot sent. */
export interface BotSpeakingEvent {
  readonly guildId: string;
  readonly speaking: number;
  readonly ssrc: number;
  readonly receivedAt: number;
}

export interface OpLogEntry {
  readonly direction: "in" | "out";
  readonly guildId: string | undefined;
  readonly op: number;
  readonly seq: number | undefined;
  readonly d: unknown;
  readonly at: number;
}

/** What a simulated user says: ready Opus packets, or 20 ms 48 kHz stereo PCM frames to encode first. */
export type Speech = { readonly opus: readonly Uint8Array[] } | { readonly pcm: readonly Int16Array[] };

export interface SpeakOptions {
  /** true (default): one frame every 20 ms on a drift-free schedule; false: all at once. */
  readonly paced?: boolean;
  readonly signal?: AbortSignal;
}

/** A WebSocket close code the server sends, or "terminate" to drop the socket (the client sees 1006). */
export type CloseAction = number | "terminate";

interface SimUser extends RtpSenderState {
  readonly userId: string;
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

interface GuildState {
  readonly guildId: string;
  readonly users: Map<string, SimUser>;
  readonly botAudio: BotPacket[];
  readonly gatewayRequests: GatewayVoiceStateRequest[];
  readonly waiters: Set<Waiter>;
  adapter: LoopbackAdapter | undefined;
  adapterAvailable: boolean;
  token: string | undefined;
  session: VoiceSession | undefined;
}

interface VoiceSession {
  readonly guild: GuildState;
  readonly sessionId: string;
  readonly token: string;
  readonly ssrc: number;
  readonly sealer: RtpSealer;
  readonly opener: RtpOpener;
  readonly key: Buffer;
  ws: WebSocket | undefined;
  seq: number;
  /** Numbered messages not yet acknowledged by a heartbeat, replayed on resume. */
  unacked: { readonly seq: number; readonly text: string }[];
  remote: { readonly address: string; readonly port: number } | undefined;
  described: boolean;
}

/** Per-WebSocket view: which session (if any) this socket speaks for. */
interface SocketContext {
  session: VoiceSession | undefined;
}

type Payload = Record<string, unknown>;

export class LoopbackVoiceServer {
  private readonly https: Server;
  private readonly wss: WebSocketServer;
  private readonly udp: Socket;
  private readonly logger: Logger;
  private readonly heartbeatIntervalMs: number;
  private readonly recordBotAudio: boolean;
  private readonly opLogLimit: number;
  private readonly guilds = new Map<string, GuildState>();
  /** Demultiplexes the bot's datagrams: its SSRC names its session. */
  private readonly sessionsBySsrc = new Map<number, VoiceSession>();
  private readonly botAudioListeners = new Set<(packet: BotPacket) => void>();
  private readonly botSpeakingListeners = new Set<(event: BotSpeakingEvent) => void>();
  private readonly pacers = new Set<AbortController>();
  private readonly log: OpLogEntry[] = [];
  private nextSsrc = 1000 + randomInt(1000);
  private ackHeartbeats = true;
  private resumesToReject = 0;
  private closed = false;

  private constructor(options: LoopbackVoiceServerOptions) {
    const identity = options.tls ?? loopbackTlsIdentity();
    this.logger = options.logger ?? log.child({ component: "loopback-voice" });
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? DISCORD_HEARTBEAT_INTERVAL_MS;
    this.recordBotAudio = options.recordBotAudio ?? true;
    this.opLogLimit = options.opLogLimit ?? 10_000;
    this.https = createServer({ cert: identity.cert, key: identity.key });
    this.https.on("tlsClientError", (error) => this.logger.warn({ err: error }, "TLS handshake failed"));
    this.wss = new WebSocketServer({ server: this.https, maxPayload: MAX_WS_PAYLOAD_BYTES });
    this.wss.on("connection", (ws, request) => this.onConnection(ws, request));
    this.wss.on("error", (error) => this.logger.error({ err: error }, "voice WebSocket server error"));
    this.udp = createSocket("udp4");
    this.udp.on("message", (message, remote) => this.onDatagram(message, remote));
    this.udp.on("error", (error) => this.logger.error({ err: error }, "voice UDP socket error"));
  }

  /** Listens on 127.0.0.1 with ports chosen by the OS. */
  static async start(options: LoopbackVoiceServerOptions = {}): Promise<LoopbackVoiceServer> {
    const server = new LoopbackVoiceServer(options);
    await new Promise<void>((resolve, reject) => {
      server.https.once("error", reject);
      server.https.listen(0, "127.0.0.1", () => {
        server.https.off("error", reject);
        resolve();
      });
    });
    await new Promise<void>((resolve) => server.udp.bind(0, "127.0.0.1", resolve));
    return server;
  }

  /** host:port as a VOICE_SERVER_UPDATE carries it (no scheme). */
  get endpoint(): string {
    return `127.0.0.1:${(this.https.address() as AddressInfo).port}`;
  }

  /** Every JSON op in both directions, oldest first. */
  get opLog(): readonly OpLogEntry[] {
    return this.log;
  }

  /** The `adapterCreator` to pass to joinVoiceChannel for this guild, acting as the bot `userId`. */
  adapterCreator(ids: { readonly userId: string; readonly guildId: string }): DiscordGatewayAdapterCreator {
    const guild = this.guild(ids.guildId);
    guild.adapter = createLoopbackAdapter(
      {
        endpoint: this.endpoint,
        onVoiceStateRequest: (request) => {
          guild.gatewayRequests.push(request);
          return guild.adapterAvailable;
        },
        issueToken: () => {
          guild.token = randomBytes(16).toString("hex");
          return guild.token;
        },
      },
      ids,
    );
    return guild.adapter.creator;
  }

  /** The gateway voice state requests the bot made for this guild (joins, rejoins, leaves). */
  gatewayRequests(guildId: string): readonly GatewayVoiceStateRequest[] {
    return this.guild(guildId).gatewayRequests;
  }

  /** false makes the adapter's sendPayload fail, as when the bot's gateway shard is down. */
  setAdapterAvailable(guildId: string, available: boolean): void {
    this.guild(guildId).adapterAvailable = available;
  }

  /** Resolves once the guild's current session has its Session Description (op 4) sent. */
  waitForSession(guildId: string, timeoutMs = 10_000): Promise<void> {
    const guild = this.guild(guildId);
    if (guild.session?.described) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          guild.waiters.delete(waiter);
          reject(new Error(`no voice session for guild ${guildId} within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      guild.waiters.add(waiter);
    });
  }

  /** Puts a user in the guild's channel: op 11 and op 5 (the only way the client maps their SSRC). */
  addUser(guildId: string, userId: string): { readonly ssrc: number } {
    const guild = this.guild(guildId);
    const existing = guild.users.get(userId);
    if (existing !== undefined) return { ssrc: existing.ssrc };
    const user: SimUser = {
      userId,
      ssrc: this.nextSsrc++,
      sequence: randomInt(0x10000),
      timestamp: randomInt(0xffffffff),
      nonce: 0,
    };
    guild.users.set(userId, user);
    if (guild.session?.described) this.announceUsers(guild.session, [user]);
    return { ssrc: user.ssrc };
  }

  /** op 13: the client forgets the user's SSRC; later packets from them would be dropped. */
  removeUser(guildId: string, userId: string): void {
    const guild = this.guild(guildId);
    if (!guild.users.delete(userId)) return;
    if (guild.session !== undefined)
      this.sendNumbered(guild.session, OP.ClientDisconnect, { user_id: userId });
  }

  /**
   * Sends a user's speech to the bot over UDP. Resolves with the number of frames that went out;
   * frames due while the guild has no ready session are lost, as audio during a reconnect is.
   */
  async speakAs(
    guildId: string,
    userId: string,
    speech: Speech,
    options: SpeakOptions = {},
  ): Promise<number> {
    const guild = this.guild(guildId);
    const user = guild.users.get(userId);
    if (user === undefined) throw new Error(`user ${userId} is not in guild ${guildId}: call addUser first`);
    const lastRequest = guild.gatewayRequests.at(-1);
    if (lastRequest?.selfDeaf) {
      throw new Error(
        `the bot joined guild ${guildId} self-deafened: Discord sends no audio to it (selfDeaf: false)`,
      );
    }
    const frames = "opus" in speech ? speech.opus : encodePcmFrames(speech.pcm);
    let sent = 0;
    const send = (index: number): void => {
      if (this.sendUserFrame(guild, user, frames[index]!)) sent++;
    };
    if (options.paced === false) {
      for (let index = 0; index < frames.length; index++) send(index);
      return sent;
    }
    const controller = new AbortController();
    this.pacers.add(controller);
    const signal =
      options.signal === undefined ? controller.signal : AbortSignal.any([controller.signal, options.signal]);
    try {
      await paceFrames(frames.length, send, signal);
      return sent;
    } finally {
      this.pacers.delete(controller);
    }
  }

  /**
   * Sends one packet from the user with a broken auth tag, as line noise would. @discordjs/voice
   * destroys the user's receive stream when it cannot decrypt a packet.
   */
  sendCorruptPacket(guildId: string, userId: string): boolean {
    const guild = this.guild(guildId);
    const user = guild.users.get(userId);
    const session = guild.session;
    if (user === undefined || session?.remote === undefined || this.closed) return false;
    const packet = session.sealer.seal(user, SILENCE_FRAME);
    packet[packet.length - 5]! ^= 0xff;
    this.udp.send(packet, session.remote.port, session.remote.address);
    return true;
  }

  /** Subscribes to every packet the bot sends (all guilds); returns the unsubscribe function. */
  onBotAudio(listener: (packet: BotPacket) => void): () => void {
    this.botAudioListeners.add(listener);
    return () => this.botAudioListeners.delete(listener);
  }

  /** The packets the bot sent in this guild, in arrival order (empty when recording is off). */
  botAudio(guildId: string): readonly BotPacket[] {
    return this.guild(guildId).botAudio;
  }

  onBotSpeaking(listener: (event: BotSpeakingEvent) => void): () => void {
    this.botSpeakingListeners.add(listener);
    return () => this.botSpeakingListeners.delete(listener);
  }

  /** Closes the guild's voice WebSocket with `action` (a 1xxx/3xxx/4xxx code) or drops it. */
  disconnect(guildId: string, action: CloseAction): void {
    const ws = this.guild(guildId).session?.ws;
    if (ws === undefined) throw new Error(`guild ${guildId} has no open voice WebSocket`);
    if (action === "terminate") {
      ws.terminate();
      return;
    }
    if (!SENDABLE_LOW_CLOSE_CODES.has(action) && !(action >= 3000 && action <= 4999)) {
      throw new RangeError(
        `close code ${action} cannot be sent; use "terminate" for an abnormal close (1006)`,
      );
    }
    ws.close(action);
  }

  /**
   * Moves the bot to another channel the way Discord does: the voice WebSocket closes with 4014,
   * then new state and server updates arrive through the adapter.
   */
  moveBot(guildId: string, channelId: string): void {
    const guild = this.guild(guildId);
    if (guild.adapter === undefined) throw new Error(`guild ${guildId} has no adapter`);
    const last = guild.gatewayRequests.at(-1);
    guild.session?.ws?.close(4014);
    guild.adapter.deliver(channelId, last?.selfDeaf ?? false, last?.selfMute ?? false);
  }

  /** false stops heartbeat ACKs; the client gives up after three misses and resumes. */
  setHeartbeatAck(enabled: boolean): void {
    this.ackHeartbeats = enabled;
  }

  /** The next Resume (op 7) is refused with 4006, forcing the client to identify anew. */
  rejectNextResume(): void {
    this.resumesToReject++;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const pacer of this.pacers) pacer.abort();
    for (const guild of this.guilds.values()) {
      for (const waiter of guild.waiters) {
        clearTimeout(waiter.timer);
        waiter.reject(new Error("loopback voice server closed"));
      }
      guild.waiters.clear();
    }
    for (const client of this.wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.https.closeAllConnections();
    await new Promise<void>((resolve) => this.https.close(() => resolve()));
    await new Promise<void>((resolve) => this.udp.close(() => resolve()));
  }

  private guild(guildId: string): GuildState {
    let guild = this.guilds.get(guildId);
    if (guild === undefined) {
      guild = {
        guildId,
        users: new Map(),
        botAudio: [],
        gatewayRequests: [],
        waiters: new Set(),
        adapter: undefined,
        adapterAvailable: true,
        token: undefined,
        session: undefined,
      };
      this.guilds.set(guildId, guild);
    }
    return guild;
  }

  private onConnection(ws: WebSocket, request: IncomingMessage): void {
    const context: SocketContext = { session: undefined };
    if (request.url !== "/?v=8")
      this.logger.warn({ url: request.url }, "voice client asked for another gateway version");
    ws.on("error", (error) => this.logger.warn({ err: error }, "voice WebSocket error"));
    ws.on("message", (data, isBinary) => this.onMessage(ws, context, data, isBinary));
    ws.on("close", (code) => {
      const session = context.session;
      if (session?.ws === ws) session.ws = undefined;
      this.logger.debug({ guildId: session?.guild.guildId, code }, "voice WebSocket closed");
    });
    this.sendRaw(ws, undefined, OP.Hello, { v: 8, heartbeat_interval: this.heartbeatIntervalMs });
  }

  private onMessage(ws: WebSocket, context: SocketContext, data: RawData, isBinary: boolean): void {
    const guildId = context.session?.guild.guildId;
    if (isBinary) {
      // Binary frames are DAVE (MLS) messages; this server negotiated DAVE off.
      this.logger.warn({ guildId }, "ignored a binary voice gateway message");
      return;
    }
    let packet: unknown;
    try {
      packet = JSON.parse(data.toString());
    } catch {
      this.logger.warn({ guildId }, "ignored a voice gateway message that is not JSON");
      return;
    }
    if (!isPayload(packet) || typeof packet.op !== "number") {
      this.logger.warn({ guildId }, "ignored a voice gateway message without an op");
      return;
    }
    const d = isPayload(packet.d) ? packet.d : {};
    // Identify and Resume name their guild before a session is bound to the socket.
    const named = typeof d.server_id === "string" ? d.server_id : undefined;
    this.record("in", guildId ?? named, packet.op, packet.d, undefined);
    switch (packet.op) {
      case OP.Identify:
        this.onIdentify(ws, context, d);
        return;
      case OP.SelectProtocol:
        this.onSelectProtocol(ws, context, d);
        return;
      case OP.Heartbeat:
        this.onHeartbeat(ws, context, d);
        return;
      case OP.Speaking:
        this.onBotSpeakingOp(context, d);
        return;
      case OP.Resume:
        this.onResume(ws, context, d);
        return;
      default:
        this.logger.debug({ guildId, op: packet.op }, "ignored a voice gateway op");
    }
  }

  private onIdentify(ws: WebSocket, context: SocketContext, d: Payload): void {
    const { server_id: guildId, session_id: sessionId, token, user_id: userId } = d;
    if (typeof guildId !== "string" || typeof sessionId !== "string" || typeof token !== "string") {
      this.logger.warn("Identify without server_id, session_id or token");
      ws.close(CLOSE.DecodeError);
      return;
    }
    if (context.session !== undefined) {
      ws.close(CLOSE.AlreadyAuthenticated);
      return;
    }
    const guild = this.guilds.get(guildId);
    if (guild?.token === undefined || guild.token !== token) {
      this.logger.warn({ guildId, userId }, "Identify with a token this server did not issue");
      ws.close(CLOSE.AuthenticationFailed);
      return;
    }
    this.endSession(guild);
    const key = randomBytes(SECRET_KEY_BYTES);
    const session: VoiceSession = {
      guild,
      sessionId,
      token,
      ssrc: this.nextSsrc++,
      key,
      sealer: new RtpSealer(key),
      opener: new RtpOpener(key),
      ws,
      seq: 0,
      unacked: [],
      remote: undefined,
      described: false,
    };
    guild.session = session;
    context.session = session;
    this.sessionsBySsrc.set(session.ssrc, session);
    const { port } = this.udp.address();
    this.sendNumbered(session, OP.Ready, {
      ssrc: session.ssrc,
      ip: "127.0.0.1",
      port,
      modes: [ENCRYPTION_MODE],
    });
  }

  private onSelectProtocol(ws: WebSocket, context: SocketContext, d: Payload): void {
    const session = context.session;
    if (session === undefined) {
      ws.close(CLOSE.NotAuthenticated);
      return;
    }
    const data = isPayload(d.data) ? d.data : {};
    const { address, port, mode } = data;
    if (typeof address !== "string" || typeof port !== "number") {
      this.logger.warn({ guildId: session.guild.guildId }, "Select Protocol without address and port");
      ws.close(CLOSE.DecodeError);
      return;
    }
    if (mode !== ENCRYPTION_MODE) {
      this.logger.warn(
        { guildId: session.guild.guildId, mode },
        "client chose an encryption mode not offered",
      );
      ws.close(CLOSE.UnknownEncryptionMode);
      return;
    }
    session.remote = { address, port };
    this.sendNumbered(session, OP.SessionDescription, {
      mode: ENCRYPTION_MODE,
      secret_key: [...session.key],
      dave_protocol_version: 0,
    });
    session.described = true;
    this.announceUsers(session, [...session.guild.users.values()]);
    for (const waiter of session.guild.waiters) {
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
    session.guild.waiters.clear();
  }

  private onHeartbeat(ws: WebSocket, context: SocketContext, d: Payload): void {
    const session = context.session;
    if (session !== undefined && typeof d.seq_ack === "number") {
      const acked = d.seq_ack;
      session.unacked = session.unacked.filter((message) => message.seq > acked);
    }
    if (this.ackHeartbeats) this.sendRaw(ws, session?.guild.guildId, OP.HeartbeatAck, { t: d.t });
  }

  private onBotSpeakingOp(context: SocketContext, d: Payload): void {
    const session = context.session;
    if (session === undefined || typeof d.speaking !== "number") return;
    const event: BotSpeakingEvent = {
      guildId: session.guild.guildId,
      speaking: d.speaking,
      ssrc: typeof d.ssrc === "number" ? d.ssrc : session.ssrc,
      receivedAt: performance.now(),
    };
    for (const listener of this.botSpeakingListeners) this.notify(listener, event);
  }

  private onResume(ws: WebSocket, context: SocketContext, d: Payload): void {
    const guild = typeof d.server_id === "string" ? this.guilds.get(d.server_id) : undefined;
    const session = guild?.session;
    const valid =
      session !== undefined &&
      session.sessionId === d.session_id &&
      session.token === d.token &&
      session.described;
    if (!valid || this.resumesToReject > 0) {
      if (valid) this.resumesToReject--;
      this.logger.info({ guildId: guild?.guildId }, "refused a voice Resume");
      if (guild !== undefined) this.endSession(guild);
      ws.close(CLOSE.SessionNoLongerValid);
      return;
    }
    if (session.ws !== undefined && session.ws !== ws) session.ws.terminate();
    session.ws = ws;
    context.session = session;
    const seqAck = typeof d.seq_ack === "number" ? d.seq_ack : -1;
    for (const message of session.unacked) {
      if (message.seq > seqAck) ws.send(message.text);
    }
    this.sendNumbered(session, OP.Resumed, null);
  }

  private endSession(guild: GuildState): void {
    const session = guild.session;
    if (session === undefined) return;
    guild.session = undefined;
    this.sessionsBySsrc.delete(session.ssrc);
  }

  private announceUsers(session: VoiceSession, users: readonly SimUser[]): void {
    if (users.length === 0) return;
    this.sendNumbered(session, OP.ClientsConnect, { user_ids: users.map((user) => user.userId) });
    for (const user of users) {
      this.sendNumbered(session, OP.Speaking, { user_id: user.userId, ssrc: user.ssrc, speaking: 1 });
    }
  }

  /** Numbered (v8 buffered resume): kept until a heartbeat acknowledges it, sent if a socket is open. */
  private sendNumbered(session: VoiceSession, op: number, d: unknown): void {
    const seq = ++session.seq;
    const text = JSON.stringify({ op, d, seq });
    session.unacked.push({ seq, text });
    if (session.unacked.length > MAX_UNACKED_MESSAGES) session.unacked.shift();
    this.record("out", session.guild.guildId, op, d, seq);
    if (session.ws?.readyState === WebSocket.OPEN) session.ws.send(text);
  }

  /** Hello and heartbeat ACKs carry no sequence number. */
  private sendRaw(ws: WebSocket, guildId: string | undefined, op: number, d: unknown): void {
    this.record("out", guildId, op, d, undefined);
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ op, d }));
  }

  private record(
    direction: "in" | "out",
    guildId: string | undefined,
    op: number,
    d: unknown,
    seq: number | undefined,
  ) {
    if (this.log.length >= this.opLogLimit) this.log.splice(0, this.log.length >> 1);
    this.log.push({ direction, guildId, op, seq, d, at: performance.now() });
  }

  private sendUserFrame(guild: GuildState, user: SimUser, opus: Uint8Array): boolean {
    const session = guild.session;
    if (session?.remote === undefined || !session.described || this.closed) return false;
    this.udp.send(session.sealer.seal(user, opus), session.remote.port, session.remote.address);
    return true;
  }

  private onDatagram(message: Buffer, remote: RemoteInfo): void {
    const discoverySsrc = parseDiscoveryRequest(message);
    if (discoverySsrc !== undefined) {
      if (!this.sessionsBySsrc.has(discoverySsrc)) {
        this.logger.warn({ ssrc: discoverySsrc }, "IP discovery for an unknown SSRC");
        return;
      }
      this.udp.send(
        discoveryResponse(discoverySsrc, remote.address, remote.port),
        remote.port,
        remote.address,
      );
      return;
    }
    if (message.length === KEEPALIVE_BYTES) return;
    if (message.length < 12) {
      this.logger.warn({ bytes: message.length, from: remote.port }, "ignored a runt voice datagram");
      return;
    }
    const session = this.sessionsBySsrc.get(message.readUInt32BE(8));
    if (session === undefined) {
      this.logger.debug({ ssrc: message.readUInt32BE(8) }, "ignored a voice datagram for an unknown SSRC");
      return;
    }
    let opened: ReturnType<RtpOpener["open"]>;
    try {
      opened = session.opener.open(message);
    } catch (error) {
      this.logger.warn(
        { guildId: session.guild.guildId, err: error },
        "ignored an undecryptable voice packet",
      );
      return;
    }
    const packet: BotPacket = {
      guildId: session.guild.guildId,
      opus: opened.opus,
      sequence: opened.sequence,
      rtpTimestamp: opened.timestamp,
      ssrc: opened.ssrc,
      nonce: opened.nonce,
      isSilence: isSilenceFrame(opened.opus),
      receivedAt: performance.now(),
    };
    if (this.recordBotAudio) session.guild.botAudio.push(packet);
    for (const listener of this.botAudioListeners) this.notify(listener, packet);
  }

  /** A listener's bug must not take the sockets down with it. */
  private notify<T>(listener: (value: T) => void, value: T): void {
    try {
      listener(value);
    } catch (error) {
      this.logger.error({ err: error }, "loopback voice server listener threw");
    }
  }
}

function isPayload(value: unknown): value is Payload {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function encodePcmFrames(pcm: readonly Int16Array[]): Buffer[] {
  const encoder = new OpusFrameEncoder();
  try {
    return pcm.map((frame) => encoder.encode(frame));
  } finally {
    encoder.destroy();
  }
}
