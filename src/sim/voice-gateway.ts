import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Server } from "node:https";
import { performance } from "node:perf_hooks";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import type { Logger } from "../log.ts";
import { ENCRYPTION_MODE, RtpOpener, RtpSealer, type RtpSenderState, SECRET_KEY_BYTES } from "./rtp.ts";

/*
 * The WebSocket half of the loopback voice server: voice gateway v8 as @discordjs/voice 0.19
 * speaks it (Identify, Select Protocol, Heartbeat, Speaking, Resume), with v8 buffered resume.
 * DAVE (protocol version 1) is negotiated by default and its messages are handed to the host
 * (src/sim/dave/ holds the group logic); with daveRequired false it is declined with version 0.
 * Protocol details are in the project's discord-voice-loopback spec; comments here say only why a
 * choice was made.
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

/** Discord's voice close codes for the protocol errors this server detects. */
const CLOSE = {
  DecodeError: 4002,
  NotAuthenticated: 4003,
  AuthenticationFailed: 4004,
  AlreadyAuthenticated: 4005,
  SessionNoLongerValid: 4006,
  UnknownEncryptionMode: 4016,
  /** Discord since March 2026: a client offering no DAVE version is refused. */
  DaveRequired: 4017,
} as const;

/** The DAVE JSON ops a client sends: ready for transition (23), invalid commit/welcome (31). */
const DAVE_CLIENT_JSON_OPS = new Set([23, 31]);

const MAX_UNACKED_MESSAGES = 1_000;
const MAX_WS_PAYLOAD_BYTES = 64 * 1024;

/** A simulated user in a guild's channel, with the RTP state of what they send. */
export interface SimUser extends RtpSenderState {
  readonly userId: string;
}

/** What the gateway reads and writes of a guild. */
export interface GatewayGuild {
  readonly guildId: string;
  readonly users: ReadonlyMap<string, SimUser>;
  /** The voice token handed out with the last VOICE_SERVER_UPDATE. */
  readonly token: string | undefined;
  session: VoiceSession | undefined;
}

export interface VoiceSession {
  readonly guild: GatewayGuild;
  readonly sessionId: string;
  readonly token: string;
  readonly ssrc: number;
  /** The bot's user id from Identify. */
  readonly userId: string;
  /** 1 when DAVE was negotiated, 0 when declined. */
  readonly daveVersion: number;
  readonly key: Buffer;
  readonly sealer: RtpSealer;
  readonly opener: RtpOpener;
  ws: WebSocket | undefined;
  seq: number;
  /** Numbered messages not yet acknowledged by a heartbeat, replayed on resume. */
  unacked: { readonly seq: number; readonly data: string | Buffer }[];
  /** Where the bot's UDP socket is (from Select Protocol). */
  remote: { readonly address: string; readonly port: number } | undefined;
  /** Session Description (op 4) sent: the bot has the key. */
  described: boolean;
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

export interface VoiceGatewayHost {
  udpPort(): number;
  guild(guildId: string): GatewayGuild | undefined;
  allocateSsrc(): number;
  sessionStarted(session: VoiceSession): void;
  sessionEnded(session: VoiceSession): void;
  /** The bot has its key: UDP can flow. */
  sessionDescribed(session: VoiceSession): void;
  botSpeaking(event: BotSpeakingEvent): void;
  /** The bot resumed this session on a new socket (after the replay). */
  sessionResumed(session: VoiceSession): void;
  /** A DAVE message from the bot: binary ops 26/28 as a Buffer, JSON ops 23/31 as their `d`. */
  daveMessage(session: VoiceSession, op: number, payload: Buffer | Record<string, unknown>): void;
}

export interface VoiceGatewayOptions {
  readonly heartbeatIntervalMs: number;
  readonly opLogLimit: number;
  /** true: DAVE v1, refusing identifies that offer only v0 (4017); false: DAVE declined (v0). */
  readonly daveRequired: boolean;
  readonly logger: Logger;
}

/** Per-WebSocket view: which session (if any) this socket speaks for. */
interface SocketContext {
  session: VoiceSession | undefined;
}

type Payload = Record<string, unknown>;

export class VoiceGateway {
  /** false stops heartbeat ACKs. */
  ackHeartbeats = true;
  readonly #wss: WebSocketServer;
  readonly #host: VoiceGatewayHost;
  readonly #heartbeatIntervalMs: number;
  readonly #opLogLimit: number;
  readonly #daveRequired: boolean;
  readonly #logger: Logger;
  readonly #log: OpLogEntry[] = [];
  #resumesToReject = 0;

  constructor(server: Server, host: VoiceGatewayHost, options: VoiceGatewayOptions) {
    this.#host = host;
    this.#heartbeatIntervalMs = options.heartbeatIntervalMs;
    this.#opLogLimit = options.opLogLimit;
    this.#daveRequired = options.daveRequired;
    this.#logger = options.logger;
    this.#wss = new WebSocketServer({ server, maxPayload: MAX_WS_PAYLOAD_BYTES });
    this.#wss.on("connection", (ws, request) => this.#onConnection(ws, request));
    this.#wss.on("error", (error) => this.#logger.error({ err: error }, "voice WebSocket server error"));
  }

  /** Every JSON op in both directions, oldest first. */
  get opLog(): readonly OpLogEntry[] {
    return this.#log;
  }

  rejectNextResume(): void {
    this.#resumesToReject++;
  }

  /** op 11 then one op 5 per user: op 5 is the only way the client learns a user's SSRC. */
  announceUsers(session: VoiceSession, users: readonly SimUser[]): void {
    if (users.length === 0) return;
    this.#sendNumbered(session, OP.ClientsConnect, { user_ids: users.map((user) => user.userId) });
    for (const user of users) {
      this.#sendNumbered(session, OP.Speaking, { user_id: user.userId, ssrc: user.ssrc, speaking: 1 });
    }
  }

  /** op 13: the client forgets the user's SSRC. */
  announceUserLeft(session: VoiceSession, userId: string): void {
    this.#sendNumbered(session, OP.ClientDisconnect, { user_id: userId });
  }

  async close(): Promise<void> {
    for (const client of this.#wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }

  #onConnection(ws: WebSocket, request: IncomingMessage): void {
    const context: SocketContext = { session: undefined };
    if (request.url !== "/?v=8") {
      this.#logger.warn({ url: request.url }, "voice client asked for another gateway version");
    }
    ws.on("error", (error) => this.#logger.warn({ err: error }, "voice WebSocket error"));
    ws.on("message", (data, isBinary) => this.#onMessage(ws, context, data, isBinary));
    ws.on("close", (code) => {
      const session = context.session;
      if (session?.ws === ws) session.ws = undefined;
      this.#logger.debug({ guildId: session?.guild.guildId, code }, "voice WebSocket closed");
    });
    this.#sendRaw(ws, undefined, OP.Hello, { v: 8, heartbeat_interval: this.#heartbeatIntervalMs });
  }

  #onMessage(ws: WebSocket, context: SocketContext, data: RawData, isBinary: boolean): void {
    const boundGuildId = context.session?.guild.guildId;
    if (isBinary) {
      // Binary frames are DAVE (MLS) messages: one opcode byte, then the payload.
      const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
      const session = context.session;
      if (session === undefined || session.daveVersion === 0 || bytes.length < 1) {
        this.#logger.warn({ guildId: boundGuildId }, "ignored a binary voice gateway message");
        return;
      }
      this.#record("in", boundGuildId, bytes[0]!, { bytes: bytes.length - 1 }, undefined);
      this.#host.daveMessage(session, bytes[0]!, bytes.subarray(1));
      return;
    }
    let packet: unknown;
    try {
      packet = JSON.parse(data.toString());
    } catch {
      this.#logger.warn({ guildId: boundGuildId }, "ignored a voice gateway message that is not JSON");
      return;
    }
    if (!isPayload(packet) || typeof packet.op !== "number") {
      this.#logger.warn({ guildId: boundGuildId }, "ignored a voice gateway message without an op");
      return;
    }
    const d = isPayload(packet.d) ? packet.d : {};
    // Identify and Resume name their guild before a session is bound to the socket.
    const named = typeof d.server_id === "string" ? d.server_id : undefined;
    this.#record("in", boundGuildId ?? named, packet.op, packet.d, undefined);
    switch (packet.op) {
      case OP.Identify:
        this.#onIdentify(ws, context, d);
        return;
      case OP.SelectProtocol:
        this.#onSelectProtocol(ws, context, d);
        return;
      case OP.Heartbeat:
        this.#onHeartbeat(ws, context, d);
        return;
      case OP.Speaking:
        this.#onBotSpeaking(context, d);
        return;
      case OP.Resume:
        this.#onResume(ws, context, d);
        return;
      default:
        if (DAVE_CLIENT_JSON_OPS.has(packet.op) && context.session !== undefined) {
          this.#host.daveMessage(context.session, packet.op, d);
          return;
        }
        this.#logger.debug({ guildId: boundGuildId, op: packet.op }, "ignored a voice gateway op");
    }
  }

  #onIdentify(ws: WebSocket, context: SocketContext, d: Payload): void {
    const { server_id: guildId, session_id: sessionId, token, user_id: userId } = d;
    if (typeof guildId !== "string" || typeof sessionId !== "string" || typeof token !== "string") {
      this.#logger.warn("Identify without server_id, session_id or token");
      ws.close(CLOSE.DecodeError);
      return;
    }
    if (context.session !== undefined) {
      ws.close(CLOSE.AlreadyAuthenticated);
      return;
    }
    const guild = this.#host.guild(guildId);
    if (guild?.token === undefined || guild.token !== token) {
      this.#logger.warn({ guildId, userId }, "Identify with a token this server did not issue");
      ws.close(CLOSE.AuthenticationFailed);
      return;
    }
    const offered = typeof d.max_dave_protocol_version === "number" ? d.max_dave_protocol_version : 0;
    if (this.#daveRequired && offered < 1) {
      this.#logger.warn({ guildId, userId, offered }, "refused an Identify without DAVE");
      ws.close(CLOSE.DaveRequired);
      return;
    }
    this.#endSession(guild);
    const key = randomBytes(SECRET_KEY_BYTES);
    const session: VoiceSession = {
      guild,
      sessionId,
      token,
      ssrc: this.#host.allocateSsrc(),
      userId: typeof userId === "string" ? userId : "",
      daveVersion: this.#daveRequired ? 1 : 0,
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
    this.#host.sessionStarted(session);
    this.#sendNumbered(session, OP.Ready, {
      ssrc: session.ssrc,
      ip: "127.0.0.1",
      port: this.#host.udpPort(),
      modes: [ENCRYPTION_MODE],
    });
  }

  #onSelectProtocol(ws: WebSocket, context: SocketContext, d: Payload): void {
    const session = context.session;
    if (session === undefined) {
      ws.close(CLOSE.NotAuthenticated);
      return;
    }
    const { address, port, mode } = isPayload(d.data) ? d.data : {};
    if (typeof address !== "string" || typeof port !== "number") {
      this.#logger.warn({ guildId: session.guild.guildId }, "Select Protocol without address and port");
      ws.close(CLOSE.DecodeError);
      return;
    }
    if (mode !== ENCRYPTION_MODE) {
      this.#logger.warn(
        { guildId: session.guild.guildId, mode },
        "client chose an encryption mode not offered",
      );
      ws.close(CLOSE.UnknownEncryptionMode);
      return;
    }
    session.remote = { address, port };
    this.#sendNumbered(session, OP.SessionDescription, {
      mode: ENCRYPTION_MODE,
      secret_key: [...session.key],
      dave_protocol_version: session.daveVersion,
    });
    session.described = true;
    this.announceUsers(session, [...session.guild.users.values()]);
    this.#host.sessionDescribed(session);
  }

  #onHeartbeat(ws: WebSocket, context: SocketContext, d: Payload): void {
    const session = context.session;
    if (session !== undefined && typeof d.seq_ack === "number") {
      const acked = d.seq_ack;
      session.unacked = session.unacked.filter((message) => message.seq > acked);
    }
    if (this.ackHeartbeats) this.#sendRaw(ws, session?.guild.guildId, OP.HeartbeatAck, { t: d.t });
  }

  #onBotSpeaking(context: SocketContext, d: Payload): void {
    const session = context.session;
    if (session === undefined || typeof d.speaking !== "number") return;
    this.#host.botSpeaking({
      guildId: session.guild.guildId,
      speaking: d.speaking,
      ssrc: typeof d.ssrc === "number" ? d.ssrc : session.ssrc,
      receivedAt: performance.now(),
    });
  }

  #onResume(ws: WebSocket, context: SocketContext, d: Payload): void {
    const guild = typeof d.server_id === "string" ? this.#host.guild(d.server_id) : undefined;
    const session = guild?.session;
    const valid =
      session !== undefined &&
      session.sessionId === d.session_id &&
      session.token === d.token &&
      session.described;
    if (!valid || this.#resumesToReject > 0) {
      if (valid) this.#resumesToReject--;
      this.#logger.info({ guildId: guild?.guildId }, "refused a voice Resume");
      if (guild !== undefined) this.#endSession(guild);
      ws.close(CLOSE.SessionNoLongerValid);
      return;
    }
    if (session.ws !== undefined && session.ws !== ws) session.ws.terminate();
    session.ws = ws;
    context.session = session;
    const seqAck = typeof d.seq_ack === "number" ? d.seq_ack : -1;
    const missed = session.unacked.filter((message) => message.seq > seqAck);
    for (const message of missed) {
      if (typeof message.data === "string") ws.send(message.data);
    }
    this.#sendNumbered(session, OP.Resumed, null);
    // @discordjs/voice handles binary (DAVE MLS) frames only once Ready again, so after Resumed.
    for (const message of missed) {
      if (typeof message.data !== "string") ws.send(message.data);
    }
    this.#host.sessionResumed(session);
  }

  /** A numbered JSON DAVE op (21, 22, 24) to the session's bot. */
  sendDaveJson(session: VoiceSession, op: number, d: Record<string, unknown>): void {
    this.#sendNumbered(session, op, d);
  }

  /** A numbered binary DAVE op (25, 27, 29, 30): u16 sequence, u8 opcode, payload. */
  sendDaveBinary(session: VoiceSession, op: number, payload: Buffer): void {
    const seq = ++session.seq;
    const frame = Buffer.alloc(3 + payload.length);
    frame.writeUInt16BE(seq & 0xffff, 0);
    frame[2] = op;
    payload.copy(frame, 3);
    this.#keep(session, seq, frame);
    this.#record("out", session.guild.guildId, op, { bytes: payload.length }, seq);
    if (session.ws?.readyState === WebSocket.OPEN) session.ws.send(frame, { binary: true });
  }

  #endSession(guild: GatewayGuild): void {
    const session = guild.session;
    if (session === undefined) return;
    guild.session = undefined;
    this.#host.sessionEnded(session);
  }

  /** Numbered (v8 buffered resume): kept until a heartbeat acknowledges it, sent if a socket is open. */
  #sendNumbered(session: VoiceSession, op: number, d: unknown): void {
    const seq = ++session.seq;
    const text = JSON.stringify({ op, d, seq });
    this.#keep(session, seq, text);
    this.#record("out", session.guild.guildId, op, d, seq);
    if (session.ws?.readyState === WebSocket.OPEN) session.ws.send(text);
  }

  #keep(session: VoiceSession, seq: number, data: string | Buffer): void {
    session.unacked.push({ seq, data });
    if (session.unacked.length > MAX_UNACKED_MESSAGES) session.unacked.shift();
  }

  /** Hello and heartbeat ACKs carry no sequence number. */
  #sendRaw(ws: WebSocket, guildId: string | undefined, op: number, d: unknown): void {
    this.#record("out", guildId, op, d, undefined);
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ op, d }));
  }

  #record(
    direction: "in" | "out",
    guildId: string | undefined,
    op: number,
    d: unknown,
    seq: number | undefined,
  ): void {
    if (this.#log.length >= this.#opLogLimit) this.#log.splice(0, this.#log.length >> 1);
    this.#log.push({ direction, guildId, op, seq, d, at: performance.now() });
  }
}

function isPayload(value: unknown): value is Payload {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
