import { randomBytes } from "node:crypto";
import type { Server } from "node:http";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import type { Logger } from "../../log.ts";

/*
 * The main gateway of the loopback Discord, v10 JSON without compression, as @discordjs/ws speaks
 * it: Hello, Identify (token checked), Ready, heartbeats, Resume with replay of the dispatches the
 * client missed, Invalid Session, Reconnect, and Voice State Update requests handed to the owner.
 * Dispatches go to the session whose shard owns the guild, as Discord routes them.
 */

const OP = {
  Dispatch: 0,
  Heartbeat: 1,
  Identify: 2,
  PresenceUpdate: 3,
  VoiceStateUpdate: 4,
  Resume: 6,
  Reconnect: 7,
  RequestGuildMembers: 8,
  InvalidSession: 9,
  Hello: 10,
  HeartbeatAck: 11,
} as const;

const CLOSE = {
  UnknownOpcode: 4001,
  DecodeError: 4002,
  NotAuthenticated: 4003,
  AuthenticationFailed: 4004,
  AlreadyAuthenticated: 4005,
  InvalidShard: 4010,
} as const;

/** Dispatches kept per session for Resume; Discord keeps a bounded backlog too. */
const REPLAY_LIMIT = 2_000;
const MAX_PAYLOAD_BYTES = 16 * 1024;

export interface GatewayVoiceRequest {
  readonly guildId: string;
  readonly channelId: string | null;
  readonly selfMute: boolean;
  readonly selfDeaf: boolean;
}

export interface GatewayHost {
  readonly token: string;
  /** READY's user and application. */
  ready(): { readonly user: object; readonly applicationId: string };
  /** The guilds a shard owns, as unavailable stubs for READY and full GUILD_CREATE payloads. */
  guildsOf(shard: readonly [number, number]): readonly { readonly id: string; readonly payload: object }[];
  voiceRequest(session: GatewaySession, request: GatewayVoiceRequest): void;
}

export interface GatewayOptions {
  readonly heartbeatIntervalMs: number;
  readonly logger: Logger;
}

interface Dispatched {
  readonly s: number;
  readonly t: string;
  readonly d: unknown;
}

export class GatewaySession {
  readonly id = randomBytes(16).toString("hex");
  /** The voice session id Discord gives this gateway session's voice states. */
  readonly voiceSessionId = randomBytes(16).toString("hex");
  readonly shard: readonly [number, number];
  ws: WebSocket | undefined;
  seq = 0;
  readonly backlog: Dispatched[] = [];

  constructor(shard: readonly [number, number], ws: WebSocket) {
    this.shard = shard;
    this.ws = ws;
  }

  owns(guildId: string): boolean {
    return Number((BigInt(guildId) >> 22n) % BigInt(this.shard[1])) === this.shard[0];
  }
}

export interface GatewayCounters {
  identifies: number;
  /** The intents of the last Identify. */
  intents: number | undefined;
  resumes: number;
  heartbeats: number;
  invalidSessions: number;
}

export class LoopbackGateway {
  readonly counters: GatewayCounters = {
    identifies: 0,
    intents: undefined,
    resumes: 0,
    heartbeats: 0,
    invalidSessions: 0,
  };
  readonly #wss: WebSocketServer;
  readonly #host: GatewayHost;
  readonly #options: GatewayOptions;
  readonly #sessions = new Map<string, GatewaySession>();
  #ackHeartbeats = true;

  constructor(server: Server, host: GatewayHost, options: GatewayOptions) {
    this.#host = host;
    this.#options = options;
    this.#wss = new WebSocketServer({ server, path: "/gateway", maxPayload: MAX_PAYLOAD_BYTES });
    this.#wss.on("connection", (ws) => this.#accept(ws));
  }

  get sessions(): readonly GatewaySession[] {
    return [...this.#sessions.values()];
  }

  set ackHeartbeats(enabled: boolean) {
    this.#ackHeartbeats = enabled;
  }

  /** Sends a dispatch to the session owning the guild (every session when no guild is given). */
  dispatch(t: string, d: unknown, guildId?: string): void {
    for (const session of this.#sessions.values()) {
      if (guildId === undefined || session.owns(guildId)) this.#send(session, t, d);
    }
  }

  /** Drops every connection without a close frame: the client sees 1006 and resumes. */
  dropConnections(): void {
    for (const client of this.#wss.clients) client.terminate();
  }

  /** op 7: the client should reconnect and resume. */
  requestReconnect(): void {
    for (const session of this.#sessions.values()) this.#op(session.ws, OP.Reconnect, null);
  }

  /** Forgets every session (so a Resume gets op 9) and drops the connections. */
  invalidateSessions(): void {
    this.#sessions.clear();
    this.dropConnections();
  }

  close(): void {
    for (const client of this.#wss.clients) client.terminate();
    this.#wss.close();
  }

  #accept(ws: WebSocket): void {
    let session: GatewaySession | undefined;
    this.#op(ws, OP.Hello, { heartbeat_interval: this.#options.heartbeatIntervalMs });
    ws.on("error", (error) => this.#options.logger.warn({ err: error }, "gateway socket error"));
    ws.on("close", () => {
      if (session?.ws === ws) session.ws = undefined;
    });
    ws.on("message", (raw: RawData, isBinary) => {
      const message = isBinary ? undefined : parse(raw);
      if (message === undefined) {
        ws.close(CLOSE.DecodeError);
        return;
      }
      switch (message.op) {
        case OP.Heartbeat:
          this.counters.heartbeats++;
          if (this.#ackHeartbeats) this.#op(ws, OP.HeartbeatAck, null);
          return;
        case OP.Identify:
          if (session !== undefined) {
            ws.close(CLOSE.AlreadyAuthenticated);
            return;
          }
          session = this.#identify(ws, message.d);
          return;
        case OP.Resume:
          if (session !== undefined) {
            ws.close(CLOSE.AlreadyAuthenticated);
            return;
          }
          session = this.#resume(ws, message.d);
          return;
        case OP.VoiceStateUpdate: {
          if (session === undefined) {
            ws.close(CLOSE.NotAuthenticated);
            return;
          }
          const request = voiceRequest(message.d);
          if (request !== undefined && session.owns(request.guildId))
            this.#host.voiceRequest(session, request);
          return;
        }
        case OP.PresenceUpdate:
        case OP.RequestGuildMembers:
          if (session === undefined) ws.close(CLOSE.NotAuthenticated);
          return;
        default:
          ws.close(CLOSE.UnknownOpcode);
      }
    });
  }

  #identify(ws: WebSocket, d: unknown): GatewaySession | undefined {
    const data = record(d);
    if (data?.token !== this.#host.token) {
      ws.close(CLOSE.AuthenticationFailed, "Authentication failed.");
      return undefined;
    }
    const shard = shardOf(data.shard);
    if (shard === undefined) {
      ws.close(CLOSE.InvalidShard, "Invalid shard.");
      return undefined;
    }
    this.counters.identifies++;
    this.counters.intents = typeof data.intents === "number" ? data.intents : undefined;
    const session = new GatewaySession(shard, ws);
    this.#sessions.set(session.id, session);
    const { user, applicationId } = this.#host.ready();
    const guilds = this.#host.guildsOf(shard);
    const address = this.#wss.address();
    const port = address === null || typeof address === "string" ? 0 : address.port;
    this.#send(session, "READY", {
      v: 10,
      user,
      guilds: guilds.map((guild) => ({ id: guild.id, unavailable: true })),
      session_id: session.id,
      resume_gateway_url: `ws://127.0.0.1:${port}/gateway`,
      shard,
      application: { id: applicationId, flags: 0 },
      user_settings: {},
      private_channels: [],
      presences: [],
      relationships: [],
      guild_join_requests: [],
    });
    for (const guild of guilds) this.#send(session, "GUILD_CREATE", guild.payload);
    return session;
  }

  #resume(ws: WebSocket, d: unknown): GatewaySession | undefined {
    const data = record(d);
    const session = typeof data?.session_id === "string" ? this.#sessions.get(data.session_id) : undefined;
    if (data?.token !== this.#host.token || session === undefined || typeof data.seq !== "number") {
      this.counters.invalidSessions++;
      this.#op(ws, OP.InvalidSession, false);
      return undefined;
    }
    this.counters.resumes++;
    session.ws?.terminate();
    session.ws = ws;
    const since = data.seq;
    for (const missed of session.backlog) {
      if (missed.s > since) this.#raw(ws, { op: OP.Dispatch, s: missed.s, t: missed.t, d: missed.d });
    }
    this.#send(session, "RESUMED", null);
    return session;
  }

  #send(session: GatewaySession, t: string, d: unknown): void {
    const s = ++session.seq;
    session.backlog.push({ s, t, d });
    if (session.backlog.length > REPLAY_LIMIT) session.backlog.shift();
    if (session.ws !== undefined) this.#raw(session.ws, { op: OP.Dispatch, s, t, d });
  }

  #op(ws: WebSocket | undefined, op: number, d: unknown): void {
    if (ws !== undefined) this.#raw(ws, { op, s: null, t: null, d });
  }

  #raw(ws: WebSocket, payload: object): void {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(payload));
  }
}

interface GatewayMessage {
  readonly op: number;
  readonly d: unknown;
}

function parse(raw: RawData): GatewayMessage | undefined {
  try {
    const value: unknown = JSON.parse(raw.toString());
    const data = record(value);
    return data !== undefined && typeof data.op === "number" ? { op: data.op, d: data.d } : undefined;
  } catch {
    return undefined;
  }
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined;
}

function shardOf(value: unknown): [number, number] | undefined {
  if (value === undefined) return [0, 1];
  if (!Array.isArray(value) || value.length !== 2) return undefined;
  const [id, count] = value as unknown[];
  if (typeof id !== "number" || typeof count !== "number" || count < 1 || id < 0 || id >= count)
    return undefined;
  return [id, count];
}

function voiceRequest(d: unknown): GatewayVoiceRequest | undefined {
  const data = record(d);
  if (typeof data?.guild_id !== "string") return undefined;
  return {
    guildId: data.guild_id,
    channelId: typeof data.channel_id === "string" ? data.channel_id : null,
    selfMute: data.self_mute === true,
    selfDeaf: data.self_deaf === true,
  };
}
