import { randomBytes, randomInt } from "node:crypto";
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import type { DiscordGatewayAdapterCreator } from "@discordjs/voice";
import { encodeOpusStream } from "../audio/opus-stream.ts";
import { type Logger, log } from "../log.ts";
import { type BotDaveFaults, type DaveReport, GuildDave } from "./dave/guild-dave.ts";
import { ExternalSender } from "./dave/mls.ts";
import type { MemberFaults, SimDaveMember } from "./dave/sim-member.ts";
import { paceFrames } from "./frame-pacer.ts";
import {
  createLoopbackAdapter,
  type GatewayVoiceStateRequest,
  type LoopbackAdapter,
} from "./gateway-adapter.ts";
import {
  discoveryResponse,
  isSilenceFrame,
  KEEPALIVE_BYTES,
  type OpenedPacket,
  parseDiscoveryRequest,
  SILENCE_FRAME,
} from "./rtp.ts";
import { loopbackTlsIdentity, type TlsIdentity } from "./tls.ts";
import {
  type BotSpeakingEvent,
  type GatewayGuild,
  type OpLogEntry,
  type SimUser,
  VoiceGateway,
  type VoiceSession,
} from "./voice-gateway.ts";

export type { DaveReport } from "./dave/guild-dave.ts";
export type { BotSpeakingEvent, OpLogEntry } from "./voice-gateway.ts";

/*
 * A loopback Discord voice server that the real @discordjs/voice client can join, speak to and
 * hear: the voice gateway (voice-gateway.ts) on a TLS WebSocket, plus UDP with
 * aead_aes256_gcm_rtpsize (rtp.ts). Sessions are keyed by guild, so one server carries many guilds
 * at once; the bot's datagrams are demultiplexed by SSRC.
 */

const DISCORD_HEARTBEAT_INTERVAL_MS = 41_250;
/** Close codes `ws` lets a server send; 1006 can only be produced by dropping the socket. */
const SENDABLE_LOW_CLOSE_CODES = new Set([
  1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
]);
const MIN_RTP_BYTES = 12;

export interface LoopbackVoiceServerOptions {
  /** Sent in Hello; Discord's documented example is 41250 ms, tests use a few hundred. */
  readonly heartbeatIntervalMs?: number;
  readonly tls?: TlsIdentity;
  /** Keep every packet the bot sends for botAudio() (default true; a long benchmark turns it off). */
  readonly recordBotAudio?: boolean;
  /** Entries kept in opLog before the oldest half is dropped (default 10 000). */
  readonly opLogLimit?: number;
  /**
   * true (default): DAVE v1 end to end, as Discord requires since March 2026, and an Identify
   * offering only v0 is closed with 4017. false: DAVE declined (v0), transport encryption only.
   */
  readonly daveRequired?: boolean;
  /** How long a DAVE transition waits for every member's ready (23) before executing anyway. */
  readonly daveTransitionTimeoutMs?: number;
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

/** What a simulated user says: ready Opus packets, or 20 ms 48 kHz stereo PCM frames to encode first. */
export type Speech = { readonly opus: readonly Uint8Array[] } | { readonly pcm: readonly Int16Array[] };

export interface SpeakOptions {
  /** true (default): one frame every 20 ms on a drift-free schedule; false: all at once. */
  readonly paced?: boolean;
  readonly signal?: AbortSignal;
}

/** A WebSocket close code the server sends, or "terminate" to drop the socket (the client sees 1006). */
export type CloseAction = number | "terminate";

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

interface GuildState extends GatewayGuild {
  readonly users: Map<string, SimUser>;
  readonly botAudio: BotPacket[];
  readonly gatewayRequests: GatewayVoiceStateRequest[];
  readonly waiters: Set<Waiter>;
  adapter: LoopbackAdapter | undefined;
  adapterAvailable: boolean;
  token: string | undefined;
  /** DAVE state of the guild's channel, from the bot's first DAVE session on. */
  dave: GuildDave | undefined;
}

/** A live session by its bot SSRC, with the guild it records into. */
interface SsrcRoute {
  readonly session: VoiceSession;
  readonly guild: GuildState;
}

export class LoopbackVoiceServer {
  readonly #https: Server;
  readonly #gateway: VoiceGateway;
  readonly #udp: Socket;
  readonly #logger: Logger;
  readonly #recordBotAudio: boolean;
  readonly #guilds = new Map<string, GuildState>();
  /** Demultiplexes the bot's datagrams: its SSRC names its session. */
  readonly #routes = new Map<number, SsrcRoute>();
  readonly #botAudioListeners = new Set<(packet: BotPacket) => void>();
  readonly #botSpeakingListeners = new Set<(event: BotSpeakingEvent) => void>();
  readonly #pacers = new Set<AbortController>();
  /** The gateway's DAVE external sender: one signing identity for every group it serves. */
  readonly #externalSender = new ExternalSender();
  readonly #daveTransitionTimeoutMs: number | undefined;
  #nextSsrc = 1000 + randomInt(1000);
  #closed = false;

  private constructor(options: LoopbackVoiceServerOptions) {
    const identity = options.tls ?? loopbackTlsIdentity();
    this.#logger = options.logger ?? log.child({ component: "loopback-voice" });
    this.#recordBotAudio = options.recordBotAudio ?? true;
    this.#daveTransitionTimeoutMs = options.daveTransitionTimeoutMs;
    this.#https = createServer({ cert: identity.cert, key: identity.key });
    this.#https.on("tlsClientError", (error) => this.#logger.warn({ err: error }, "TLS handshake failed"));
    this.#udp = createSocket("udp4");
    this.#udp.on("message", (message, remote) => this.#onDatagram(message, remote));
    this.#udp.on("error", (error) => this.#logger.error({ err: error }, "voice UDP socket error"));
    this.#gateway = new VoiceGateway(
      this.#https,
      {
        udpPort: () => this.#udp.address().port,
        guild: (guildId) => this.#guilds.get(guildId),
        allocateSsrc: () => this.#nextSsrc++,
        sessionStarted: (session) => {
          const guild = this.#guilds.get(session.guild.guildId);
          if (guild !== undefined) this.#routes.set(session.ssrc, { session, guild });
        },
        sessionEnded: (session) => {
          this.#routes.delete(session.ssrc);
          this.#guilds.get(session.guild.guildId)?.dave?.botLeft(session.userId);
        },
        sessionDescribed: (session) => {
          this.#startDave(session);
          this.#releaseWaiters(session.guild.guildId);
        },
        sessionResumed: (session) =>
          this.#guilds.get(session.guild.guildId)?.dave?.botResumed(session.userId),
        daveMessage: (session, op, payload) => {
          this.#guilds.get(session.guild.guildId)?.dave?.botMessage(session.userId, op, payload);
        },
        botSpeaking: (event) => {
          for (const listener of this.#botSpeakingListeners) this.#notify(listener, event);
        },
      },
      {
        heartbeatIntervalMs: options.heartbeatIntervalMs ?? DISCORD_HEARTBEAT_INTERVAL_MS,
        opLogLimit: options.opLogLimit ?? 10_000,
        daveRequired: options.daveRequired ?? true,
        logger: this.#logger,
      },
    );
  }

  /** Listens on 127.0.0.1 with ports chosen by the OS. */
  static async start(options: LoopbackVoiceServerOptions = {}): Promise<LoopbackVoiceServer> {
    const server = new LoopbackVoiceServer(options);
    await new Promise<void>((resolve, reject) => {
      server.#https.once("error", reject);
      server.#https.listen(0, "127.0.0.1", () => {
        server.#https.off("error", reject);
        resolve();
      });
    });
    await new Promise<void>((resolve) => server.#udp.bind(0, "127.0.0.1", resolve));
    return server;
  }

  /** host:port as a VOICE_SERVER_UPDATE carries it (no scheme). */
  get endpoint(): string {
    return `127.0.0.1:${(this.#https.address() as AddressInfo).port}`;
  }

  /** Every JSON op in both directions, oldest first. */
  get opLog(): readonly OpLogEntry[] {
    return this.#gateway.opLog;
  }

  /** The `adapterCreator` to pass to joinVoiceChannel for this guild, acting as the bot `userId`. */
  adapterCreator(ids: { readonly userId: string; readonly guildId: string }): DiscordGatewayAdapterCreator {
    const guild = this.#guild(ids.guildId);
    guild.adapter = createLoopbackAdapter(
      {
        endpoint: this.endpoint,
        onVoiceStateRequest: (request) => {
          guild.gatewayRequests.push(request);
          return guild.adapterAvailable;
        },
        issueToken: () => this.issueToken(ids.guildId),
      },
      ids,
    );
    return guild.adapter.creator;
  }

  /**
   * A fresh voice token for the guild, as a main gateway puts in VOICE_SERVER_UPDATE: only the
   * latest one identifies.
   */
  issueToken(guildId: string): string {
    const guild = this.#guild(guildId);
    guild.token = randomBytes(16).toString("hex");
    return guild.token;
  }

  /**
   * Tells the server where the main gateway put the bot (a loopback Discord calls it on every
   * voice state it applies), as the in-process adapter records by itself: DAVE groups are per
   * channel.
   */
  noteBotVoiceState(request: GatewayVoiceStateRequest): void {
    this.#guild(request.guildId).gatewayRequests.push(request);
  }

  /** The gateway voice state requests the bot made for this guild (joins, rejoins, leaves). */
  gatewayRequests(guildId: string): readonly GatewayVoiceStateRequest[] {
    return this.#guild(guildId).gatewayRequests;
  }

  /** false makes the adapter's sendPayload fail, as when the bot's gateway shard is down. */
  setAdapterAvailable(guildId: string, available: boolean): void {
    this.#guild(guildId).adapterAvailable = available;
  }

  /** Resolves once the guild's current session has its Session Description (op 4) sent. */
  waitForSession(guildId: string, timeoutMs = 10_000): Promise<void> {
    const guild = this.#guild(guildId);
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
    const guild = this.#guild(guildId);
    const existing = guild.users.get(userId);
    if (existing !== undefined) return { ssrc: existing.ssrc };
    const user: SimUser = {
      userId,
      ssrc: this.#nextSsrc++,
      sequence: randomInt(0x10000),
      timestamp: randomInt(0xffffffff),
      nonce: 0,
    };
    guild.users.set(userId, user);
    if (guild.session?.described) this.#gateway.announceUsers(guild.session, [user]);
    guild.dave?.addUser(userId);
    return { ssrc: user.ssrc };
  }

  /** op 13: the client forgets the user's SSRC; later packets from them would be dropped. */
  removeUser(guildId: string, userId: string): void {
    const guild = this.#guild(guildId);
    if (!guild.users.delete(userId)) return;
    if (guild.session !== undefined) this.#gateway.announceUserLeft(guild.session, userId);
    guild.dave?.removeUser(userId);
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
    const guild = this.#guild(guildId);
    const user = guild.users.get(userId);
    if (user === undefined) throw new Error(`user ${userId} is not in guild ${guildId}: call addUser first`);
    const lastRequest = guild.gatewayRequests.at(-1);
    if (lastRequest?.selfDeaf) {
      throw new Error(
        `the bot joined guild ${guildId} self-deafened: Discord sends no audio to it (selfDeaf: false)`,
      );
    }
    const frames = "opus" in speech ? speech.opus : encodeOpusStream(speech.pcm);
    let sent = 0;
    const send = (index: number): void => {
      if (this.#sendUserFrame(guild, user, frames[index]!)) sent++;
    };
    if (options.paced === false) {
      for (let index = 0; index < frames.length; index++) send(index);
      return sent;
    }
    const controller = new AbortController();
    this.#pacers.add(controller);
    const signal =
      options.signal === undefined ? controller.signal : AbortSignal.any([controller.signal, options.signal]);
    try {
      await paceFrames(frames.length, send, signal);
      return sent;
    } finally {
      this.#pacers.delete(controller);
    }
  }

  /**
   * Sends one packet from the user with a broken auth tag, as line noise would. @discordjs/voice
   * destroys the user's receive stream when it cannot decrypt a packet.
   */
  sendCorruptPacket(guildId: string, userId: string): boolean {
    const guild = this.#guild(guildId);
    const user = guild.users.get(userId);
    const session = guild.session;
    if (user === undefined || session?.remote === undefined || this.#closed) return false;
    const packet = session.sealer.seal(user, SILENCE_FRAME);
    packet[packet.length - 5]! ^= 0xff;
    this.#udp.send(packet, session.remote.port, session.remote.address);
    return true;
  }

  /** The guild's DAVE counters, or undefined while DAVE is off or the bot has not joined yet. */
  daveReport(guildId: string): DaveReport | undefined {
    return this.#guild(guildId).dave?.report();
  }

  /** Whether a simulated user is in the guild's established DAVE group (welcomed or committed). */
  isDaveMember(guildId: string, userId: string): boolean {
    return this.#guild(guildId).dave?.group.isMember(userId) ?? false;
  }

  /**
   * true once a user can be heard through DAVE: they are in the group and no transition is in
   * flight (always true while the guild has no DAVE).
   */
  daveSettled(guildId: string, userId: string): boolean {
    const dave = this.#guild(guildId).dave;
    return dave === undefined || (dave.group.isMember(userId) && !dave.group.transitioning);
  }

  /** Whether the guild's DAVE group has proposals or a transition in flight. */
  daveTransitioning(guildId: string): boolean {
    return this.#guild(guildId).dave?.group.transitioning ?? false;
  }

  /** A simulated user's DAVE client (privacy code, epoch), for assertions. */
  daveMember(guildId: string, userId: string): SimDaveMember | undefined {
    return this.#guild(guildId).dave?.member(userId);
  }

  /** Switches a simulated user's DAVE misbehaviours on or off, for fault tests. */
  daveFaults(guildId: string, userId: string): MemberFaults {
    const faults = this.#guild(guildId).dave?.faults(userId);
    if (faults === undefined) throw new Error(`user ${userId} has no DAVE session in guild ${guildId}`);
    return faults;
  }

  /** Gateway-side DAVE faults towards the bot, for fault tests. */
  daveBotFaults(guildId: string): BotDaveFaults {
    const dave = this.#guild(guildId).dave;
    if (dave === undefined) throw new Error(`guild ${guildId} has no DAVE group`);
    return dave.botFaults;
  }

  /** Subscribes to every packet the bot sends (all guilds); returns the unsubscribe function. */
  onBotAudio(listener: (packet: BotPacket) => void): () => void {
    this.#botAudioListeners.add(listener);
    return () => this.#botAudioListeners.delete(listener);
  }

  /** The packets the bot sent in this guild, in arrival order (empty when recording is off). */
  botAudio(guildId: string): readonly BotPacket[] {
    return this.#guild(guildId).botAudio;
  }

  onBotSpeaking(listener: (event: BotSpeakingEvent) => void): () => void {
    this.#botSpeakingListeners.add(listener);
    return () => this.#botSpeakingListeners.delete(listener);
  }

  /** Closes the guild's voice WebSocket with `action` (a 1xxx/3xxx/4xxx code) or drops it. */
  disconnect(guildId: string, action: CloseAction): void {
    const ws = this.#guild(guildId).session?.ws;
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

  /** Closes the guild's voice WebSocket with `code` if one is open (Discord's 4014 on a move or kick). */
  closeSession(guildId: string, code: number): boolean {
    const ws = this.#guilds.get(guildId)?.session?.ws;
    if (ws === undefined) return false;
    ws.close(code);
    return true;
  }

  /**
   * Moves the bot to another channel the way Discord does: the voice WebSocket closes with 4014,
   * then new state and server updates arrive through the adapter.
   */
  moveBot(guildId: string, channelId: string): void {
    const guild = this.#guild(guildId);
    if (guild.adapter === undefined) throw new Error(`guild ${guildId} has no adapter`);
    const last = guild.gatewayRequests.at(-1);
    guild.session?.ws?.close(4014);
    guild.adapter.deliver(channelId, last?.selfDeaf ?? false, last?.selfMute ?? false);
  }

  /** false stops heartbeat ACKs; the client gives up after three misses and resumes. */
  setHeartbeatAck(enabled: boolean): void {
    this.#gateway.ackHeartbeats = enabled;
  }

  /** The next Resume (op 7) is refused with 4006, forcing the client to identify anew. */
  rejectNextResume(): void {
    this.#gateway.rejectNextResume();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const pacer of this.#pacers) pacer.abort();
    for (const guild of this.#guilds.values()) {
      guild.dave?.close();
      for (const waiter of guild.waiters) {
        clearTimeout(waiter.timer);
        waiter.reject(new Error("loopback voice server closed"));
      }
      guild.waiters.clear();
    }
    await this.#gateway.close();
    this.#https.closeAllConnections();
    await new Promise<void>((resolve) => this.#https.close(() => resolve()));
    await new Promise<void>((resolve) => this.#udp.close(() => resolve()));
  }

  #guild(guildId: string): GuildState {
    let guild = this.#guilds.get(guildId);
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
        dave: undefined,
      };
      this.#guilds.set(guildId, guild);
    }
    return guild;
  }

  #releaseWaiters(guildId: string): void {
    const guild = this.#guilds.get(guildId);
    if (guild === undefined) return;
    for (const waiter of guild.waiters) {
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
    guild.waiters.clear();
  }

  /**
   * The bot's session is described: with DAVE it joins the channel's group (created on the first
   * session, and again if the bot moved channel) and every simulated user there becomes a member.
   */
  #startDave(session: VoiceSession): void {
    const guild = this.#guilds.get(session.guild.guildId);
    if (guild === undefined || session.daveVersion === 0) return;
    const channelId = guild.gatewayRequests.findLast((request) => request.channelId !== null)?.channelId;
    if (channelId === undefined || channelId === null) return;
    if (guild.dave?.channelId !== channelId) {
      guild.dave?.close();
      guild.dave = new GuildDave({
        channelId,
        externalSender: this.#externalSender,
        transitionTimeoutMs: this.#daveTransitionTimeoutMs,
        logger: this.#logger,
      });
    }
    const dave = guild.dave;
    dave.botJoined(session.userId, {
      sendJson: (op, d) => {
        if (guild.session === session) this.#gateway.sendDaveJson(session, op, d);
      },
      sendBinary: (op, payload) => {
        if (guild.session === session) this.#gateway.sendDaveBinary(session, op, payload);
      },
    });
    for (const userId of guild.users.keys()) dave.addUser(userId);
  }

  #sendUserFrame(guild: GuildState, user: SimUser, opus: Uint8Array): boolean {
    const session = guild.session;
    if (session?.remote === undefined || !session.described || this.#closed) return false;
    const frame = guild.dave === undefined ? opus : guild.dave.protect(user.userId, opus);
    this.#udp.send(session.sealer.seal(user, frame), session.remote.port, session.remote.address);
    return true;
  }

  #onDatagram(message: Buffer, remote: RemoteInfo): void {
    const discoverySsrc = parseDiscoveryRequest(message);
    if (discoverySsrc !== undefined) {
      if (!this.#routes.has(discoverySsrc)) {
        this.#logger.warn({ ssrc: discoverySsrc }, "IP discovery for an unknown SSRC");
        return;
      }
      this.#udp.send(
        discoveryResponse(discoverySsrc, remote.address, remote.port),
        remote.port,
        remote.address,
      );
      return;
    }
    if (message.length === KEEPALIVE_BYTES) return;
    if (message.length < MIN_RTP_BYTES) {
      this.#logger.warn({ bytes: message.length, from: remote.port }, "ignored a runt voice datagram");
      return;
    }
    const route = this.#routes.get(message.readUInt32BE(8));
    if (route === undefined) {
      this.#logger.debug({ ssrc: message.readUInt32BE(8) }, "ignored a voice datagram for an unknown SSRC");
      return;
    }
    const { session, guild } = route;
    let opened: OpenedPacket;
    try {
      opened = session.opener.open(message);
    } catch (error) {
      this.#logger.warn({ guildId: guild.guildId, err: error }, "ignored an undecryptable voice packet");
      return;
    }
    // Inside the transport encryption the bot's audio is DAVE-encrypted: open it as a listener would.
    const opus =
      guild.dave === undefined ? opened.opus : guild.dave.openBotFrame(session.userId, opened.opus);
    if (opus === undefined) return;
    const packet: BotPacket = {
      guildId: guild.guildId,
      opus,
      sequence: opened.sequence,
      rtpTimestamp: opened.timestamp,
      ssrc: opened.ssrc,
      nonce: opened.nonce,
      isSilence: isSilenceFrame(opus),
      receivedAt: performance.now(),
    };
    if (this.#recordBotAudio) guild.botAudio.push(packet);
    for (const listener of this.#botAudioListeners) this.#notify(listener, packet);
  }

  /** A listener's bug must not take the sockets down with it. */
  #notify<T>(listener: (value: T) => void, value: T): void {
    try {
      listener(value);
    } catch (error) {
      this.#logger.error({ err: error }, "loopback voice server listener threw");
    }
  }
}
