import type { TokenCredential } from "@azure/identity";
import { getVoiceConnection } from "@discordjs/voice";
import { Events } from "discord.js";
import { COMMANDS } from "../../commands/index.ts";
import { type BotApp, createBotApp } from "../app.ts";
import { FRAME_SAMPLES_48K, FRAME_SAMPLES_48K_STEREO } from "../audio/constants.ts";
import { encodeOpusStream } from "../audio/opus-stream.ts";
import { isSilent } from "../audio/pcm.ts";
import { convertSampleRate } from "../audio/rate-convert.ts";
import type { WavAudio } from "../audio/wav.ts";
import { bargeInCut, OutputHoldClock, packetsOfHandedFrames } from "../bridge/figures.ts";
import type { BargeInInfo, BridgeObserver, ToolCallRecord } from "../bridge/guild-bridge.ts";
import { LatencyRecorder } from "../bridge/latency.ts";
import { personaRules } from "../bridge/persona-rules.ts";
import type { Backend, CaptionSink, ConversationStatus, LatencyFigures } from "../bridge/types.ts";
import {
  type AzureVoiceLiveConfig,
  type Config,
  type Env,
  type InputSampleRate,
  loadConfig,
  sessionTarget,
} from "../config.ts";
import { ConversationManager } from "../conversation/manager.ts";
import { commandPayload } from "../discord/registry.ts";
import { type LocalBackend, startLocalBackend } from "../local/backend.ts";
import type { LocalVoiceLiveServer } from "../local/server.ts";
import { type Logger, log } from "../log.ts";
import { Metrics } from "../metrics/metrics.ts";
import { defaultPersona, type ListenPolicy, type Persona } from "../persona.ts";
import type { GuildStore } from "../store/guild-store.ts";
import { openSqliteStore } from "../store/sqlite-store.ts";
import { NO_TOOLS } from "../tools/no-tools.ts";
import type { ClientEventType, ErrorDetails } from "../voicelive/protocol.ts";
import { type ChannelMessage, type InteractionRecord, LoopbackDiscord } from "./discord/index.ts";
import { paceFrames } from "./frame-pacer.ts";
import { snowflake } from "./snowflake.ts";
import { trustLoopbackCertificate } from "./tls.ts";
import { type BotPacket, LoopbackVoiceServer, type Speech } from "./voice-server.ts";

/**
 * The whole bot path in one process, without Discord: the loopback Discord voice server, the real
 * @discordjs/voice client, a ConversationManager and a Voice Live backend (the local server, started
 * here so its fault controls are at hand, or Azure). Guilds join through the loopback server,
 * simulated users speak into them in real time, and everything the bot does is recorded per guild:
 * the PCM appended, the frames handed to the player, the packets that reached the channel, barge-ins,
 * turn events, responses, client events, errors, notices and captions. Used by `npm run simulate`, the
 * conversation tests and the benchmarks (several guilds in one process).
 */

export type HarnessBackend =
  | {
      readonly kind: "local";
      /** Reply audio streams this many times faster than real time (the local server's default 4). */
      readonly speed?: number;
      readonly chunkMs?: number;
      /** The key the local server demands (default: a fresh one the bot is given); null: none. */
      readonly serverApiKey?: string | null;
      /**
       * What the bot is configured with, given the local server's URL (default: that URL and the
       * server's key): a proxy in between, another key, no key (Entra ID with `credential`).
       */
      readonly botConfig?: (endpoint: string) => AzureVoiceLiveConfig;
      readonly credential?: TokenCredential;
    }
  | {
      readonly kind: "azure";
      readonly azure: AzureVoiceLiveConfig;
      readonly credential?: TokenCredential;
      readonly connectionsPerMinute?: number;
    };

export interface SimHarnessOptions {
  /** Default: the local server. */
  readonly backend?: HarnessBackend;
  readonly inputRate?: InputSampleRate;
  /** Keep every appended frame, handed-over frame and bot packet (default true; long benchmarks say false). */
  readonly recordAudio?: boolean;
  readonly idleTimeoutSeconds?: number;
  readonly logger?: Logger;
  /** Prometheus metrics the conversations report to (`npm run simulate` with METRICS_PORT). */
  readonly metrics?: Metrics;
  /**
   * Run the real bot application (src/app.ts) logged in to a loopback Discord: each guild is a
   * Discord server whose member runs /join as an interaction, and notices and captions are
   * messages there. Without it the harness drives a ConversationManager directly (benchmarks).
   */
  readonly discord?: boolean;
  /** Application mode: the loopback Discord's gateway heartbeat and interaction response window. */
  readonly discordTiming?: { readonly heartbeatIntervalMs?: number; readonly interactionWindowMs?: number };
  /** Application mode: more configuration variables, as in .env (EMPTY_CHANNEL_GRACE_SECONDS, ...). */
  readonly env?: Env;
  /** DAVE end-to-end encryption in the voice server (default true, as Discord requires). */
  readonly dave?: boolean;
  /** The loopback voice server's heartbeat interval (Discord's by default). */
  readonly voiceHeartbeatIntervalMs?: number;
}

/** The Discord side of a harness in application mode. */
interface DiscordSide {
  readonly discord: LoopbackDiscord;
  readonly app: BotApp;
  readonly store: GuildStore;
}

export interface SimJoinOptions {
  readonly guildId?: string;
  readonly persona?: Persona;
  /** Captions on, posted to a recording CaptionSink (`record.captions`). */
  readonly captions?: boolean;
  readonly listen?: ListenPolicy;
}

/** One append: exactly the audio given to Voice Live at once. */
export interface AppendedFrame {
  /** A copy of exactly what was appended (undefined when audio is not recorded). */
  readonly pcm: Int16Array | undefined;
  readonly speech: boolean;
  readonly at: number;
}

/** A frame of bot speech handed to the player (observer.botFrameSent). */
export interface HandedFrame {
  readonly responseId: string;
  readonly itemId: string;
  readonly audioReceivedAt: number;
  readonly at: number;
}

export interface BargeInRecord extends BargeInInfo {
  /**
   * Non-silent bot packets captured by the end of the event-loop turn that handled speech_started:
   * packets the bot had sent before (even if the server read them in the same turn). Undefined for
   * a moment after the barge-in.
   */
  capturedBefore: number | undefined;
}

export interface ClientEventRun {
  readonly type: ClientEventType;
  count: number;
}

export interface SimError {
  readonly at: number;
  readonly source: "voicelive" | "harness";
  readonly code?: string;
  readonly message: string;
}

export interface CaptionMessage {
  readonly handle: string;
  /** The text as posted, then after each edit. */
  readonly texts: string[];
}

/** Everything recorded for one guild; performance.now() times. */
export interface GuildRecord {
  /** Each append, in order (one or two 20 ms frames each). */
  readonly appended: AppendedFrame[];
  /** Appends made (counted even when audio is not recorded). */
  appends: number;
  appendedMs: number;
  /** Audio appended after the last append with speech in it: the silence tail. */
  msAfterLastSpeech: number;
  readonly handed: HandedFrame[];
  readonly bargeIns: BargeInRecord[];
  readonly speechStarted: number[];
  readonly speechStopped: number[];
  readonly responses: { readonly status: string; readonly at: number }[];
  /** Client event types sent to Voice Live, consecutive repeats counted. */
  readonly clientEvents: ClientEventRun[];
  readonly truncations: { readonly itemId: string; readonly audioEndMs: number; readonly at: number }[];
  readonly errors: SimError[];
  /** Lines the conversation posted through notify. */
  readonly notices: string[];
  readonly captions: CaptionMessage[];
  /** Non-silent packets the bot sent into the channel (counted even when packets are not recorded). */
  nonSilentPackets: number;
  /** Each speaker note the model was given: the display names it named. */
  readonly speakerNotes: (readonly string[])[];
  readonly toolCalls: ToolCallRecord[];
  /** Smart turn-taking: when the bot's voice paused for speech over it, and when a held answer went on. */
  readonly pauses: number[];
  readonly resumes: { readonly at: number; readonly pausedAt: number }[];
  /** When the bot asked for a response to a user turn (smart turn-taking, wake name). */
  readonly responseRequests: number[];
  /** User items not answered because the wake name was not said. */
  readonly ignoredTurns: string[];
}

/** One pass of a user's speech through the channel. */
export interface SpeechRun {
  /** performance.now() when each frame was sent (NaN for frames not sent: aborted). */
  readonly sentAt: Float64Array;
  readonly framesSent: number;
  /** Frames that went nowhere because the guild had no ready voice session. */
  readonly framesLost: number;
}

/** When the last frame of a speech run was sent; undefined when none was. */
export function lastSentAt(run: SpeechRun): number | undefined {
  for (let i = run.sentAt.length - 1; i >= 0; i--) if (!Number.isNaN(run.sentAt[i]!)) return run.sentAt[i]!;
  return undefined;
}

/** A bot frame handed to the player, paired with the packet that carried it into the channel. */
export interface PlayedFrame extends HandedFrame {
  /** Index in the guild's packet list (silence packets included). */
  readonly packetIndex: number;
  readonly capturedAt: number;
}

export interface BargeInFigures {
  readonly at: number;
  readonly itemId: string | undefined;
  /** Non-silent packets of the cut response that left after speech_started was handled. */
  readonly botFramesAfterSpeechStarted: number;
  /** speech_started handled -> last of those packets captured; 0 when none. */
  readonly reactionMs: number;
  readonly truncateAudioEndMs: number | undefined;
  readonly playedMsAtCut: number;
  readonly receivedMsAtCut: number;
  readonly responseCancelSent: boolean;
  readonly framesFlushed: number;
}

const READY_TIMEOUT_MS = 5_000;
/** /join waits for Discord voice and Voice Live (Azure: a few seconds). */
const JOIN_TIMEOUT_MS = 30_000;
const POLL_MS = 5;
/** Loopback connections are free; Azure takes the configured rate. */
const LOCAL_CONNECTIONS_PER_MINUTE = 10_000;
const DEFAULT_IDLE_TIMEOUT_SECONDS = 600;
/** The simulated bot's name in its guild (the wake name unless the persona sets one). */
export const SIM_BOT_NAME = "Voicelive";

let harnessCount = 0;

/**
 * Any PCM16 WAV as Discord audio: 48 kHz stereo 20 ms frames (mono is duplicated to both channels,
 * other rates converted with the anti-aliased whole-signal resampler, the last frame padded with
 * silence). Throws a RangeError naming the problem for more than two channels.
 */
export function discordFramesFromWav(wav: WavAudio): Int16Array[] {
  const { channels, sampleRate, samples } = wav;
  if (channels > 2) throw new RangeError(`has ${channels} channels; mono or stereo only`);
  const perChannel: Int16Array[] = [];
  for (let c = 0; c < channels; c++) {
    const channel = new Int16Array(samples.length / channels);
    for (let i = 0; i < channel.length; i++) channel[i] = samples[i * channels + c]!;
    perChannel.push(convertSampleRate(channel, sampleRate, 48_000));
  }
  const left = perChannel[0]!;
  const right = perChannel[channels - 1]!;
  const frames: Int16Array[] = [];
  for (let start = 0; start < left.length; start += FRAME_SAMPLES_48K) {
    const frame = new Int16Array(FRAME_SAMPLES_48K_STEREO);
    const end = Math.min(left.length, start + FRAME_SAMPLES_48K);
    for (let i = start; i < end; i++) {
      frame[2 * (i - start)] = left[i]!;
      frame[2 * (i - start) + 1] = right[i]!;
    }
    frames.push(frame);
  }
  return frames;
}

/** Index of the last frame louder than silence (the end of the speech), or -1. */
export function lastSpeechFrame(frames: readonly Int16Array[]): number {
  for (let i = frames.length - 1; i >= 0; i--) if (!isSilent(frames[i]!)) return i;
  return -1;
}

function emptyRecord(): GuildRecord {
  return {
    appended: [],
    appends: 0,
    appendedMs: 0,
    msAfterLastSpeech: 0,
    handed: [],
    bargeIns: [],
    speechStarted: [],
    speechStopped: [],
    responses: [],
    clientEvents: [],
    truncations: [],
    errors: [],
    notices: [],
    captions: [],
    nonSilentPackets: 0,
    speakerNotes: [],
    toolCalls: [],
    pauses: [],
    resumes: [],
    responseRequests: [],
    ignoredTurns: [],
  };
}

export class SimHarness {
  readonly voice: LoopbackVoiceServer;
  /** The local Voice Live server (undefined with Azure): its fault controls and client event logs. */
  readonly local: LocalVoiceLiveServer | undefined;
  readonly manager: ConversationManager;
  readonly backend: Backend;
  readonly inputRate: InputSampleRate;
  /** The @discordjs/voice connection group of this harness's guilds. */
  readonly voiceGroup: string;
  readonly #recordAudio: boolean;
  readonly #guilds = new Map<string, SimGuild>();
  readonly #unsubscribe: () => void;
  #closed = false;

  readonly #discordSide: DiscordSide | undefined;

  private constructor(
    voice: LoopbackVoiceServer,
    local: LocalVoiceLiveServer | undefined,
    config: Config,
    options: SimHarnessOptions,
    discord: LoopbackDiscord | undefined,
    store: GuildStore | undefined,
  ) {
    const backend = options.backend ?? { kind: "local" };
    this.voice = voice;
    this.local = local;
    this.backend = backend.kind;
    this.inputRate = options.inputRate ?? 24_000;
    this.voiceGroup = `sim-${process.pid}-${++harnessCount}`;
    this.#recordAudio = options.recordAudio ?? true;
    const logger = options.logger ?? log;
    const observe = (guildId: string) => this.#guilds.get(guildId)?.observer;
    const credential = backend.credential === undefined ? {} : { credential: backend.credential };
    if (discord === undefined || store === undefined) {
      this.#discordSide = undefined;
      this.manager = new ConversationManager({
        backend: {
          label: backend.kind,
          target: sessionTarget(config),
          endpoint: async () => {
            if (config.azure === undefined) throw new Error("the harness always configures a Voice Live");
            return config.azure;
          },
        },
        config,
        logger,
        voiceGroup: this.voiceGroup,
        observe,
        ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
        ...credential,
      });
    } else {
      const app = createBotApp({
        config,
        logger,
        store,
        metrics: options.metrics ?? new Metrics(),
        // The simulator ends the process itself; the app's shutdown only releases what it holds.
        exit: () => undefined,
        backendLabel: backend.kind,
        voiceGroup: this.voiceGroup,
        observe,
        ...credential,
      });
      this.#discordSide = { discord, app, store };
      this.manager = app.conversations;
    }
    this.#unsubscribe = voice.onBotAudio((packet) =>
      this.#guilds.get(packet.guildId)?.packetCaptured(packet),
    );
  }

  /** The loopback Discord in application mode (undefined otherwise). */
  get discord(): LoopbackDiscord | undefined {
    return this.#discordSide?.discord;
  }

  /** The bot application in application mode (undefined otherwise). */
  get app(): BotApp | undefined {
    return this.#discordSide?.app;
  }

  /** Starts the loopback voice server and the backend (trusting the loopback certificate). */
  static async start(options: SimHarnessOptions = {}): Promise<SimHarness> {
    trustLoopbackCertificate();
    const backend = options.backend ?? { kind: "local" };
    const logger = options.logger ?? log;
    const voice = await LoopbackVoiceServer.start({
      recordBotAudio: options.recordAudio ?? true,
      daveRequired: options.dave ?? true,
      logger: logger.child({ component: "loopback-voice" }),
      ...(options.voiceHeartbeatIntervalMs === undefined
        ? {}
        : { heartbeatIntervalMs: options.voiceHeartbeatIntervalMs }),
    });
    let discord: LoopbackDiscord | undefined;
    if (options.discord === true) {
      discord = await LoopbackDiscord.start({
        voice,
        logger: logger.child({ component: "loopback-discord" }),
        ...options.discordTiming,
      });
      discord.registerCommands(commandPayload(COMMANDS));
    }
    const started = async (
      local: LocalVoiceLiveServer | undefined,
      azure: AzureVoiceLiveConfig,
    ): Promise<SimHarness> => {
      const config = harnessConfig(azure, backend, options.inputRate ?? 24_000, options, discord);
      const store =
        discord === undefined
          ? undefined
          : await openSqliteStore({
              path: ":memory:",
              defaults: defaultPersona({
                instructions: config.persona.defaultInstructions,
                voice: config.persona.defaultVoice,
              }),
              logger,
              rules: personaRules(sessionTarget(config)),
            });
      const harness = new SimHarness(voice, local, config, options, discord, store);
      try {
        await harness.#login();
      } catch (error) {
        await harness.close();
        throw error;
      }
      return harness;
    };
    if (backend.kind === "azure") return started(undefined, backend.azure);
    let local: LocalBackend;
    try {
      local = await startLocalBackend({
        ...(backend.serverApiKey === undefined ? {} : { apiKey: backend.serverApiKey }),
        ...(backend.speed === undefined ? {} : { speed: backend.speed }),
        ...(backend.chunkMs === undefined ? {} : { chunkMs: backend.chunkMs }),
        logger,
      });
    } catch (error) {
      await discord?.close();
      await voice.close();
      throw error;
    }
    return started(local.server, backend.botConfig?.(local.server.url) ?? local.azure);
  }

  /** Application mode: logs the bot in and waits until discord.js is ready. */
  async #login(): Promise<void> {
    const side = this.#discordSide;
    if (side === undefined) return;
    const ready = new Promise<void>((resolve) => side.app.client.once(Events.ClientReady, () => resolve()));
    await side.app.start();
    await ready;
  }

  get guilds(): readonly SimGuild[] {
    return [...this.#guilds.values()];
  }

  /** Joins a new guild's voice channel (resolves once Discord voice and Voice Live are ready). */
  async join(options: SimJoinOptions = {}): Promise<SimGuild> {
    if (this.#closed) throw new Error("the harness is closed");
    const persona =
      options.persona ?? defaultPersona({ instructions: "You are a test voice.", voice: "alloy" });
    const side = this.#discordSide;
    if (side !== undefined) return this.#joinThroughDiscord(side, options, persona);
    const guildId = options.guildId ?? snowflake();
    if (this.#guilds.has(guildId)) throw new Error(`guild ${guildId} already joined`);
    const guild = new SimGuild(
      this,
      { guildId, channelId: snowflake(), botId: snowflake() },
      this.#recordAudio,
      this.inputRate,
    );
    this.#guilds.set(guildId, guild);
    try {
      await this.manager.join({
        guildId,
        channelId: guild.channelId,
        channelName: "simulated voice",
        initiatorId: guild.botId,
        botName: SIM_BOT_NAME,
        adapterCreator: this.voice.adapterCreator({ userId: guild.botId, guildId }),
        settings: {
          persona,
          captions: { enabled: options.captions === true, channelId: null },
          listen: options.listen ?? { mode: "everyone" },
        },
        isAllowedSpeaker: () => true,
        notify: async (text) => {
          guild.record.notices.push(text);
        },
        ...(options.captions === true ? { captions: guild.captionSink } : {}),
        // Without a Discord guild there are no member names and no tools; application mode has both.
        displayName: () => undefined,
        roster: () => guild.users.map((_, i) => `user ${i + 1}`),
        tools: NO_TOOLS,
      });
    } catch (error) {
      this.#guilds.delete(guildId);
      throw error;
    }
    return guild;
  }

  /**
   * A Discord server with the guild's settings saved, whose member joins the voice channel and
   * runs /join. Notices (voice channel chat) and captions (the text channel) are recorded from the
   * messages the bot posts.
   */
  async #joinThroughDiscord(side: DiscordSide, options: SimJoinOptions, persona: Persona): Promise<SimGuild> {
    const { discord, store } = side;
    const server = discord.addGuild("Simulated server");
    const initiatorId = discord.addMember(server.id, { username: "initiator" });
    const guild = new SimGuild(
      this,
      { guildId: server.id, channelId: server.voiceChannelId, botId: discord.bot.id, initiatorId },
      this.#recordAudio,
      this.inputRate,
    );
    this.#guilds.set(server.id, guild);
    const changed = await store.changePersona(server.id, persona);
    if (!changed.ok) throw new Error(`the persona cannot be saved: ${changed.problems.join("; ")}`);
    if (options.listen !== undefined) await store.setListenPolicy(server.id, options.listen);
    if (options.captions === true)
      await store.setCaptions(server.id, { enabled: true, channelId: server.textChannelId });
    const captions = new Map<string, CaptionMessage>();
    const unsubscribe = discord.onMessage((message: ChannelMessage) => {
      if (!guild.messages.includes(message)) guild.messages.push(message);
      const text = message.versions.at(-1)!.content;
      if (message.channelId === server.voiceChannelId) {
        guild.record.notices.push(text);
      } else if (message.channelId === server.textChannelId) {
        const known = captions.get(message.id);
        if (known === undefined) {
          const caption: CaptionMessage = { handle: message.id, texts: [text] };
          captions.set(message.id, caption);
          guild.record.captions.push(caption);
        } else known.texts.push(text);
      }
    });
    guild.onStop(unsubscribe);
    discord.setUserVoice(server.id, initiatorId, server.voiceChannelId);
    const join = discord.command(server.id, initiatorId, "join");
    guild.interactions.push(join);
    await discord.waitForResponses(join, 2, JOIN_TIMEOUT_MS);
    if (!this.manager.isActive(server.id)) {
      const answer = join.responses.at(-1);
      this.#guilds.delete(server.id);
      throw new Error(`/join failed: ${answer?.content ?? JSON.stringify(answer?.embeds)}`);
    }
    return guild;
  }

  /** Ends every conversation, stops every speaker, closes both servers; frees every socket and timer. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const guild of this.#guilds.values()) guild.stop();
    await this.manager.closeAll("simulation over");
    if (this.#discordSide !== undefined) {
      await this.#discordSide.app.shutdown("simulation over");
      await this.#discordSide.discord.close();
    }
    this.#unsubscribe();
    await this.voice.close();
    await this.local?.close();
  }
}

/** One guild in the harness: its users, their speech, and what the bot did there. */
export class SimGuild {
  readonly guildId: string;
  readonly channelId: string;
  readonly botId: string;
  /** Application mode: the member who ran /join (already in the channel). */
  readonly initiatorId: string | undefined;
  /** Application mode: the interactions run in this guild, oldest first. */
  readonly interactions: InteractionRecord[] = [];
  /** Application mode: the messages the bot posted in this server (notices, captions), with edits. */
  readonly messages: ChannelMessage[] = [];
  readonly record: GuildRecord = emptyRecord();
  /** The users put in the channel without Discord (application mode keeps its own members). */
  readonly users: string[] = [];
  readonly observer: BridgeObserver;
  readonly captionSink: CaptionSink;
  readonly #harness: SimHarness;
  readonly #recordAudio: boolean;
  readonly #stop = new AbortController();
  readonly #botAudioWaiters = new Set<(packet: BotPacket) => void>();

  constructor(
    harness: SimHarness,
    ids: {
      readonly guildId: string;
      readonly channelId: string;
      readonly botId: string;
      readonly initiatorId?: string;
    },
    recordAudio: boolean,
    inputRate: number,
  ) {
    this.#harness = harness;
    this.guildId = ids.guildId;
    this.channelId = ids.channelId;
    this.botId = ids.botId;
    this.initiatorId = ids.initiatorId;
    this.#recordAudio = recordAudio;
    this.observer = this.#createObserver(inputRate);
    this.captionSink = this.#createCaptionSink();
  }

  /** The packets the bot sent into this guild's channel, in arrival order (silence included). */
  get packets(): readonly BotPacket[] {
    return this.#harness.voice.botAudio(this.guildId);
  }

  status(): ConversationStatus | undefined {
    return this.#harness.manager.status(this.guildId);
  }

  get active(): boolean {
    return this.#harness.manager.isActive(this.guildId);
  }

  /** The /leave path: ends the conversation and leaves the channel. */
  leave(reason = "left"): Promise<boolean> {
    this.stop();
    return this.#harness.manager.leave(this.guildId, reason);
  }

  /**
   * Puts a user in the channel (application mode: a new member joins it through Discord, or the
   * initiator, already there); resolves once the bot can tell their packets apart.
   */
  async addUser(userId?: string): Promise<string> {
    const discord = this.#harness.discord;
    if (discord === undefined) {
      userId ??= snowflake();
      this.#harness.voice.addUser(this.guildId, userId);
      this.users.push(userId);
    } else if (userId === undefined || userId !== this.initiatorId) {
      userId = discord.addMember(this.guildId, userId === undefined ? {} : { id: userId });
      discord.setUserVoice(this.guildId, userId, this.channelId);
    }
    const deadline = performance.now() + READY_TIMEOUT_MS;
    const connection = (): ReturnType<typeof getVoiceConnection> =>
      getVoiceConnection(this.guildId, this.#harness.voiceGroup);
    // With DAVE the user is heard only once welcomed into the group and the transition executed.
    const ready = (): boolean =>
      connection()?.receiver.ssrcMap.get(userId) !== undefined &&
      this.#harness.voice.daveSettled(this.guildId, userId);
    while (!ready()) {
      if (performance.now() > deadline)
        throw new Error(`the bot could not hear user ${userId} within ${READY_TIMEOUT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    return userId;
  }

  /**
   * Puts a user in the channel without waiting for the bot to hear them (a passing visitor);
   * application mode: a member joining the voice channel through Discord.
   */
  addVisitor(userId: string = snowflake()): string {
    const discord = this.#harness.discord;
    if (discord === undefined) {
      this.#harness.voice.addUser(this.guildId, userId);
      this.users.push(userId);
      return userId;
    }
    const member = discord.addMember(this.guildId, { id: userId });
    discord.setUserVoice(this.guildId, member, this.channelId);
    return member;
  }

  /** Takes a user out of the channel (op 13; with DAVE, a Remove proposal and a new epoch). */
  removeUser(userId: string): void {
    const discord = this.#harness.discord;
    if (discord === undefined) this.#harness.voice.removeUser(this.guildId, userId);
    else discord.setUserVoice(this.guildId, userId, null);
  }

  /**
   * Sends a user's speech (48 kHz stereo 20 ms PCM frames, encoded here, or Opus packets) one frame
   * every 20 ms on a drift-free clock, noting when each frame left. Resolves when all went out or the
   * signal (or close) stopped it.
   */
  async speak(userId: string, speech: Speech, options: { signal?: AbortSignal } = {}): Promise<SpeechRun> {
    const packets = "opus" in speech ? speech.opus : encodeOpusStream(speech.pcm);
    const sentAt = new Float64Array(packets.length).fill(Number.NaN);
    const failedSend = new AbortController();
    const signals = [this.#stop.signal, failedSend.signal];
    if (options.signal !== undefined) signals.push(options.signal);
    const voice = this.#harness.voice;
    const one: Uint8Array[] = [];
    const frame = { opus: one };
    let lost = 0;
    let failure: unknown;
    const counted = (sent: number): void => {
      if (sent === 0) lost++;
    };
    const failed = (error: unknown): void => {
      failure ??= error;
      failedSend.abort();
    };
    const sent = await paceFrames(
      packets.length,
      (index) => {
        one[0] = packets[index]!;
        sentAt[index] = performance.now();
        voice.speakAs(this.guildId, userId, frame, { paced: false }).then(counted, failed);
      },
      AbortSignal.any(signals),
    );
    if (failure !== undefined) throw failure;
    return { sentAt, framesSent: sent, framesLost: lost };
  }

  /** Stops every speaker and waiter of this guild (leave and close do it). */
  stop(): void {
    this.#stop.abort();
  }

  /** Runs `cleanup` when the guild stops. */
  onStop(cleanup: () => void): void {
    this.#stop.signal.addEventListener("abort", cleanup, { once: true });
  }

  /**
   * Resolves with the capture time of the first non-silent bot packet captured after `after`
   * (performance.now()), or undefined on timeout, abort, leave or close.
   */
  waitForBotAudio(after: number, timeoutMs: number, signal?: AbortSignal): Promise<number | undefined> {
    const earlier = this.packets.find((packet) => !packet.isSilence && packet.receivedAt > after);
    if (earlier !== undefined) return Promise.resolve(earlier.receivedAt);
    const stop = signal === undefined ? this.#stop.signal : AbortSignal.any([this.#stop.signal, signal]);
    return new Promise((resolve) => {
      const finish = (at: number | undefined): void => {
        clearTimeout(timer);
        stop.removeEventListener("abort", onAbort);
        this.#botAudioWaiters.delete(waiter);
        resolve(at);
      };
      const waiter = (packet: BotPacket): void => {
        if (packet.receivedAt > after) finish(packet.receivedAt);
      };
      const onAbort = (): void => finish(undefined);
      const timer = setTimeout(onAbort, timeoutMs);
      this.#botAudioWaiters.add(waiter);
      stop.addEventListener("abort", onAbort, { once: true });
      if (stop.aborted) onAbort();
    });
  }

  /** Called by the harness for every packet the bot sends in this guild. */
  packetCaptured(packet: BotPacket): void {
    if (packet.isSilence) return;
    this.record.nonSilentPackets++;
    for (const waiter of this.#botAudioWaiters) waiter(packet);
  }

  /** The appended PCM, concatenated: exactly what Voice Live was given (mono, at the input rate). */
  heardPcm(): Int16Array {
    const frames = this.record.appended;
    const total = frames.reduce((n, frame) => n + (frame.pcm?.length ?? 0), 0);
    const out = new Int16Array(total);
    let at = 0;
    for (const frame of frames) {
      if (frame.pcm === undefined) continue;
      out.set(frame.pcm, at);
      at += frame.pcm.length;
    }
    return out;
  }

  /** The handed-over frames paired with the packets that carried them (see {@link pairPlayedFrames}). */
  playedFrames(): PlayedFrame[] {
    return pairPlayedFrames(this.record.handed, this.packets);
  }

  #createObserver(inputRate: number): BridgeObserver {
    const record = this.record;
    const recordAudio = this.#recordAudio;
    return {
      appended: (pcm, speech, at) => {
        const ms = (pcm.length * 1000) / inputRate;
        record.appends++;
        record.appendedMs += ms;
        record.msAfterLastSpeech = speech ? 0 : record.msAfterLastSpeech + ms;
        if (recordAudio) record.appended.push({ pcm: pcm.slice(), speech, at });
      },
      botFrameSent: (item, audioReceivedAt, at) => {
        if (recordAudio)
          record.handed.push({ responseId: item.responseId, itemId: item.itemId, audioReceivedAt, at });
      },
      bargeIn: (info) => {
        const entry: BargeInRecord = { ...info, capturedBefore: undefined };
        record.bargeIns.push(entry);
        // Packets the bot sent before this turn may still be read by the server later in the same
        // turn; the check phase runs after every read of this turn and before the next audio cycle.
        setImmediate(() => {
          entry.capturedBefore = record.nonSilentPackets;
        });
      },
      speechStarted: (at) => record.speechStarted.push(at),
      speechStopped: (at) => record.speechStopped.push(at),
      responseDone: (status) => record.responses.push({ status, at: performance.now() }),
      clientEvent: (type) => {
        const last = record.clientEvents.at(-1);
        if (last?.type === type) last.count++;
        else record.clientEvents.push({ type, count: 1 });
      },
      voiceLiveError: (error: ErrorDetails) => {
        record.errors.push({
          at: performance.now(),
          source: "voicelive",
          ...(error.code === null || error.code === undefined ? {} : { code: error.code }),
          message: error.message,
        });
      },
      itemTruncated: (itemId, audioEndMs) =>
        record.truncations.push({ itemId, audioEndMs, at: performance.now() }),
      speakersNoted: (names) => record.speakerNotes.push(names),
      toolCalled: (call) => record.toolCalls.push(call),
      paused: (at) => record.pauses.push(at),
      resumed: (at, pausedAt) => record.resumes.push({ at, pausedAt }),
      responseRequested: (at) => record.responseRequests.push(at),
      turnIgnored: (itemId) => record.ignoredTurns.push(itemId),
    };
  }

  #createCaptionSink(): CaptionSink {
    const captions = this.record.captions;
    return {
      post: async (text) => {
        const handle = `caption-${captions.length + 1}`;
        captions.push({ handle, texts: [text] });
        return handle;
      },
      edit: async (handle, text) => {
        const message = captions.find((m) => m.handle === handle);
        if (message === undefined) throw new Error(`no caption message ${handle}`);
        message.texts.push(text);
      },
    };
  }
}

/** The handed-over frames with the packets that carried them into the channel. */
export function pairPlayedFrames(
  handed: readonly HandedFrame[],
  packets: readonly BotPacket[],
): PlayedFrame[] {
  return packetsOfHandedFrames(handed.length, packets.length, (p) => packets[p]!.isSilence).map(
    (packetIndex, k) => ({ ...handed[k]!, packetIndex, capturedAt: packets[packetIndex]!.receivedAt }),
  );
}

/** How long our code held each bot frame, measured at the packets captured (see figures.ts). */
export function outputLatency(played: readonly PlayedFrame[]): LatencyFigures | undefined {
  if (played.length === 0) return undefined;
  const recorder = new LatencyRecorder(played.length);
  const clock = new OutputHoldClock();
  for (const frame of played) recorder.record(clock.heldMs(frame.capturedAt, frame.audioReceivedAt));
  return recorder.figures();
}

/**
 * What a barge-in failed to stop (see figures.ts), with what the bridge reported about it.
 * Undefined while the barge-in's capture snapshot is not taken yet.
 */
export function bargeInFigures(
  bargeIn: BargeInRecord,
  played: readonly PlayedFrame[],
): BargeInFigures | undefined {
  if (bargeIn.capturedBefore === undefined) return undefined;
  const cut = bargeInCut(
    bargeIn.at,
    played.map((frame) => ({ itemId: frame.itemId, handedAt: frame.at, leftAt: frame.capturedAt })),
    bargeIn.capturedBefore,
  );
  return {
    at: bargeIn.at,
    itemId: bargeIn.itemId,
    botFramesAfterSpeechStarted: cut.framesAfter,
    reactionMs: cut.reactionMs,
    truncateAudioEndMs: bargeIn.truncateAudioEndMs,
    playedMsAtCut: bargeIn.playedMs,
    receivedMsAtCut: bargeIn.receivedMs,
    responseCancelSent: bargeIn.responseCancelSent,
    framesFlushed: bargeIn.framesFlushed,
  };
}

/** The configuration the harness's bot runs with: the backend's Voice Live settings, Discord's loopback. */
function harnessConfig(
  azure: AzureVoiceLiveConfig,
  backend: HarnessBackend,
  inputRate: InputSampleRate,
  options: SimHarnessOptions,
  discord: LoopbackDiscord | undefined,
): Config {
  const loaded = loadConfig(
    {
      DISCORD_TOKEN: discord?.token ?? "unused-without-discord",
      ...(discord === undefined ? {} : { DISCORD_API_URL: discord.apiUrl }),
      DATABASE_PATH: ":memory:",
      VOICELIVE_INPUT_SAMPLE_RATE: String(inputRate),
      VOICELIVE_CONNECTIONS_PER_MINUTE: String(
        backend.kind === "azure" ? (backend.connectionsPerMinute ?? 30) : LOCAL_CONNECTIONS_PER_MINUTE,
      ),
      IDLE_TIMEOUT_SECONDS: String(options.idleTimeoutSeconds ?? DEFAULT_IDLE_TIMEOUT_SECONDS),
      ...options.env,
    },
    { discordToken: true },
  );
  return { ...loaded, azure };
}
