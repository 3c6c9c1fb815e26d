import { randomBytes } from "node:crypto";
import type { TokenCredential } from "@azure/identity";
import { FrameClock } from "../audio/frame-clock.ts";
import { type AzureVoiceLiveConfig, type Config, sessionTarget } from "../config.ts";
import { type LocalVoiceLiveServer, startLocalVoiceLiveServer } from "../local/server.ts";
import { type Logger, registerSecret } from "../log.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { GuildSettings } from "../persona.ts";
import { ManagedVoiceConnection } from "../voice/connection.ts";
import { DEFAULT_API_VERSION, DEFAULT_MODEL } from "../voicelive/capabilities.ts";
import { VoiceLiveSession } from "../voicelive/session.ts";
import { buildSessionConfig } from "../voicelive/session-config.ts";
import { Conversation, type ConversationObserver, type UsageDelta } from "./conversation.ts";
import type {
  Backend,
  ConversationControl,
  ConversationStatus,
  JoinRequest,
  PersonaApplyResult,
} from "./types.ts";

/**
 * All of the process's conversations, one per guild, ticked by one shared 20 ms clock. Implements
 * the interface the commands use. With no Azure endpoint it starts the local Voice Live server in
 * process (echo replies) and points every session at it.
 */

export interface UsageSink {
  addUsage(
    guildId: string,
    delta: {
      secondsAppended?: number;
      secondsPlayed?: number;
      inputTokens?: number;
      outputTokens?: number;
      totalTokens?: number;
    },
  ): void;
}

export interface ConversationManagerOptions {
  readonly config: Pick<Config, "azure" | "voiceLive" | "conversation">;
  readonly logger: Logger;
  readonly usage?: UsageSink;
  readonly metrics?: Metrics;
  /** Entra ID credential for Azure without an API key (default DefaultAzureCredential). */
  readonly credential?: TokenCredential;
  /** Per-guild hooks for the simulator and benchmarks. */
  readonly observe?: (guildId: string) => ConversationObserver | undefined;
  /** @discordjs/voice connection group (benchmarks run several managers in one process). */
  readonly voiceGroup?: string;
  /** What /status and /join call the backend, when `config.azure` points at a local server. */
  readonly backendLabel?: Backend;
  /** Overrides for tests: how long Discord may take to be ready, and the VAD-tail/idle figures. */
  readonly voiceReadyTimeoutMs?: number;
}

export class ConversationManager implements ConversationControl {
  readonly backend: Backend;
  readonly #options: ConversationManagerOptions;
  readonly #log: Logger;
  readonly #conversations = new Map<string, Conversation>();
  readonly #joining = new Set<string>();
  readonly #clock: FrameClock;
  #local: Promise<LocalVoiceLiveServer> | undefined;
  #localServer: LocalVoiceLiveServer | undefined;
  #localKey: string | undefined;

  constructor(options: ConversationManagerOptions) {
    this.#options = options;
    this.#log = options.logger.child({ component: "conversations" });
    this.backend = options.backendLabel ?? (options.config.azure === undefined ? "local" : "azure");
    this.#clock = new FrameClock({
      onTick: this.#tick,
      onError: (error) => this.#log.error({ err: error }, "conversation tick failed"),
    });
  }

  get size(): number {
    return this.#conversations.size;
  }

  /** The clock's count of ticks skipped after event-loop stalls (benchmarks report it). */
  get skippedTicks(): number {
    return this.#clock.skippedTicks;
  }

  isActive(guildId: string): boolean {
    return this.#conversations.has(guildId) || this.#joining.has(guildId);
  }

  status(guildId: string): ConversationStatus | undefined {
    return this.#conversations.get(guildId)?.status();
  }

  conversation(guildId: string): Conversation | undefined {
    return this.#conversations.get(guildId);
  }

  async join(request: JoinRequest): Promise<void> {
    const { guildId } = request;
    if (this.isActive(guildId))
      throw new Error("I am already in a voice channel in this server; use /leave first.");
    const built = buildSessionConfig(request.settings.persona, this.#sessionOptions(request.settings));
    if (!built.ok) throw new Error(`The persona cannot be used: ${built.problems.join("; ")}`);
    this.#joining.add(guildId);
    const log = this.#log.child({ guildId, channelId: request.channelId });
    const observer = this.#options.observe?.(guildId);
    let voice: ManagedVoiceConnection | undefined;
    let session: VoiceLiveSession | undefined;
    try {
      const azure = await this.#azureConfig();
      session = new VoiceLiveSession({
        azure,
        session: built.config,
        connectionsPerMinute: this.#options.config.voiceLive.connectionsPerMinute,
        sessionMaxMs: this.#options.config.voiceLive.sessionMaxMinutes * 60_000,
        logger: log.child({ component: "voicelive" }),
        ...(this.#options.credential === undefined ? {} : { credential: this.#options.credential }),
        ...(observer?.clientEvent === undefined
          ? {}
          : { onClientEvent: observer.clientEvent.bind(observer) }),
        ...(request.onConnectionWait === undefined ? {} : { onConnectionWait: request.onConnectionWait }),
      });
      voice = new ManagedVoiceConnection({
        guildId,
        channelId: request.channelId,
        adapterCreator: request.adapterCreator,
        logger: log,
        ...(this.#options.voiceGroup === undefined ? {} : { group: this.#options.voiceGroup }),
        ...(this.#options.voiceReadyTimeoutMs === undefined
          ? {}
          : { readyTimeoutMs: this.#options.voiceReadyTimeoutMs }),
      });
      const [started] = await Promise.all([session.start(), voice.ready()]);
      if (!started.ok) throw new Error(`Could not start the voice service session: ${started.message}`);
      const conversation = new Conversation({
        guildId,
        channelId: request.channelId,
        initiatorId: request.initiatorId,
        backend: this.backend,
        settings: request.settings,
        voice,
        session,
        sessionConfig: (settings) => buildSessionConfig(settings.persona, this.#sessionOptions(settings)),
        inputRate: this.#options.config.voiceLive.inputSampleRate,
        isAllowedSpeaker: request.isAllowedSpeaker,
        notify: request.notify,
        ...(request.captions === undefined ? {} : { captions: request.captions }),
        usage: (delta) => this.#recordUsage(guildId, delta),
        ...(this.#options.metrics === undefined ? {} : { metrics: this.#options.metrics }),
        idleTimeoutMs: this.#options.config.conversation.idleTimeoutSeconds * 1000,
        onEnded: (reason) => void this.leave(guildId, reason),
        ...(observer === undefined ? {} : { observer }),
        logger: log,
      });
      this.#conversations.set(guildId, conversation);
      this.#options.metrics?.activeConversations.set(this.#conversations.size);
      if (this.#conversations.size === 1) this.#clock.start();
      log.info({ backend: this.backend }, "conversation started");
    } catch (error) {
      voice?.leave("join failed");
      await session?.close();
      throw error instanceof Error ? error : new Error(String(error));
    } finally {
      this.#joining.delete(guildId);
    }
  }

  async leave(guildId: string, reason: string): Promise<boolean> {
    const conversation = this.#conversations.get(guildId);
    if (conversation === undefined) return false;
    this.#conversations.delete(guildId);
    this.#options.metrics?.activeConversations.set(this.#conversations.size);
    if (this.#conversations.size === 0) this.#clock.stop();
    await conversation.end(reason);
    return true;
  }

  async applySettings(guildId: string, settings: GuildSettings): Promise<PersonaApplyResult> {
    const conversation = this.#conversations.get(guildId);
    if (conversation === undefined) return "not-running";
    return conversation.applySettings(settings);
  }

  async closeAll(reason: string): Promise<void> {
    await Promise.all([...this.#conversations.keys()].map((guildId) => this.leave(guildId, reason)));
    this.#clock.stop();
    const local = this.#localServer;
    this.#local = undefined;
    this.#localServer = undefined;
    await local?.close();
  }

  readonly #tick = (_tick: number, dueMs: number): void => {
    for (const conversation of this.#conversations.values()) conversation.tick(dueMs);
  };

  #sessionOptions(settings: GuildSettings): Parameters<typeof buildSessionConfig>[1] {
    return {
      target: sessionTarget(this.#options.config),
      inputSampleRate: this.#options.config.voiceLive.inputSampleRate,
      // Transcribing costs tokens; only captions need the user's words.
      transcriptionModel: settings.captions.enabled ? undefined : null,
    };
  }

  async #azureConfig(): Promise<AzureVoiceLiveConfig> {
    const azure = this.#options.config.azure;
    if (azure !== undefined) return azure;
    if (this.#local === undefined) {
      this.#localKey = randomBytes(24).toString("base64url");
      registerSecret(this.#localKey);
      this.#local = startLocalVoiceLiveServer({
        port: 0,
        apiKey: this.#localKey,
        reply: "echo",
        logger: this.#log.child({ component: "local-voicelive" }),
      });
      this.#localServer = await this.#local;
      this.#log.info({ url: this.#localServer.url }, "local Voice Live server started (echo replies)");
    }
    const server = await this.#local;
    return {
      endpoint: server.url,
      apiKey: this.#localKey,
      // The default target, so the local server enforces what Azure would for the default model.
      model: DEFAULT_MODEL,
      apiVersion: DEFAULT_API_VERSION,
      agent: undefined,
      tokenScope: "https://ai.azure.com/.default",
    };
  }

  #recordUsage(guildId: string, delta: UsageDelta): void {
    this.#options.usage?.addUsage(guildId, {
      secondsAppended: delta.appendedMs / 1000,
      secondsPlayed: delta.playedMs / 1000,
      inputTokens: delta.inputTokens,
      outputTokens: delta.outputTokens,
      totalTokens: delta.totalTokens,
    });
  }
}
