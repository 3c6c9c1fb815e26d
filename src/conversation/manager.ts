import type { TokenCredential } from "@azure/identity";
import { FrameClock } from "../audio/frame-clock.ts";
import { type BridgeObserver, GuildBridge, type UsageDelta } from "../bridge/guild-bridge.ts";
import { buildSessionConfig } from "../bridge/persona-session.ts";
import type { Backend, ConversationStatus, PersonaApplyResult } from "../bridge/types.ts";
import type { AzureVoiceLiveConfig, Config } from "../config.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics/metrics.ts";
import { type GuildSettings, smartTurnTaking } from "../persona.ts";
import { ManagedVoiceConnection } from "../voice/connection.ts";
import { DiscordVoiceChannel } from "../voice/voice-channel.ts";
import type { SessionTarget } from "../voicelive/capabilities.ts";
import { VoiceLiveSession } from "../voicelive/session.ts";
import type { ConversationControl, JoinRequest } from "./types.ts";

/**
 * All of the process's conversations, one per guild, ticked by one shared 20 ms clock. Implements
 * the interface the commands use. Which Voice Live it talks to is decided where the app is
 * composed: `backend` says what to call it and where it is.
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

/** The Voice Live a manager's sessions use. */
export interface VoiceLiveBackend {
  /** What /status and /join call it. */
  readonly label: Backend;
  /** What the sessions may send (the model and API version of the deployment). */
  readonly target: SessionTarget;
  /** Where it is; may start it on first use (the local backend). */
  readonly endpoint: () => Promise<AzureVoiceLiveConfig>;
}

export interface ConversationManagerOptions {
  readonly config: Pick<Config, "voiceLive" | "conversation">;
  readonly backend: VoiceLiveBackend;
  readonly logger: Logger;
  readonly usage?: UsageSink;
  readonly metrics?: Metrics;
  /** Entra ID credential for Azure without an API key (default DefaultAzureCredential). */
  readonly credential?: TokenCredential;
  /** Per-guild hooks for the simulator and benchmarks. */
  readonly observe?: (guildId: string) => BridgeObserver | undefined;
  /** @discordjs/voice connection group (benchmarks run several managers in one process). */
  readonly voiceGroup?: string;
  /** Overrides for tests: how long Discord may take to be ready, and the VAD-tail/idle figures. */
  readonly voiceReadyTimeoutMs?: number;
}

export class ConversationManager implements ConversationControl {
  readonly backend: Backend;
  readonly #options: ConversationManagerOptions;
  readonly #log: Logger;
  readonly #conversations = new Map<string, GuildBridge>();
  readonly #joining = new Set<string>();
  readonly #clock: FrameClock;

  constructor(options: ConversationManagerOptions) {
    this.#options = options;
    this.#log = options.logger.child({ component: "conversations" });
    this.backend = options.backend.label;
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

  conversation(guildId: string): GuildBridge | undefined {
    return this.#conversations.get(guildId);
  }

  async join(request: JoinRequest): Promise<void> {
    const { guildId } = request;
    if (this.isActive(guildId))
      throw new Error("I am already in a voice channel in this server; use /leave first.");
    const sessionConfig = (settings: GuildSettings, roster: readonly string[]) =>
      buildSessionConfig(settings.persona, this.#sessionOptions(settings, roster, request));
    const built = sessionConfig(request.settings, request.roster(request.channelId));
    if (!built.ok) throw new Error(`The persona cannot be used: ${built.problems.join("; ")}`);
    this.#joining.add(guildId);
    const log = this.#log.child({ guildId, channelId: request.channelId });
    const observer = this.#options.observe?.(guildId);
    let voice: ManagedVoiceConnection | undefined;
    let session: VoiceLiveSession | undefined;
    try {
      const azure = await this.#options.backend.endpoint();
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
      const inputRate = this.#options.config.voiceLive.inputSampleRate;
      const framesIn = this.#options.metrics?.framesIn;
      const channel = new DiscordVoiceChannel({
        voice,
        inputRate,
        isAllowedSpeaker: request.isAllowedSpeaker,
        ...(framesIn === undefined ? {} : { onSpeakerFrame: () => framesIn.inc() }),
        logger: log,
      });
      const conversation = new GuildBridge({
        guildId,
        backend: this.backend,
        settings: request.settings,
        voice: channel,
        realtime: session,
        sessionConfig,
        displayName: request.displayName,
        roster: () => request.roster(channel.channelId),
        botName: request.botName,
        tools: request.tools,
        inputRate,
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

  /** Someone joined or left a voice channel of the guild: its conversation's roster may follow. */
  rosterChanged(guildId: string): void {
    this.#conversations.get(guildId)?.rosterChanged();
  }

  async applySettings(guildId: string, settings: GuildSettings): Promise<PersonaApplyResult> {
    const conversation = this.#conversations.get(guildId);
    if (conversation === undefined) return "not-running";
    return conversation.applySettings(settings);
  }

  async closeAll(reason: string): Promise<void> {
    await Promise.all([...this.#conversations.keys()].map((guildId) => this.leave(guildId, reason)));
    this.#clock.stop();
  }

  readonly #tick = (_tick: number, dueMs: number): void => {
    for (const conversation of this.#conversations.values()) conversation.tick(dueMs);
  };

  #sessionOptions(
    settings: GuildSettings,
    roster: readonly string[],
    request: Pick<JoinRequest, "tools">,
  ): Parameters<typeof buildSessionConfig>[1] {
    return {
      target: this.#options.backend.target,
      roster: settings.persona.attribution ? roster : undefined,
      tools: request.tools.definitions(settings.persona.tools),
      inputSampleRate: this.#options.config.voiceLive.inputSampleRate,
      // Transcribing costs tokens; only captions and the bot's own turn-taking (backchannels, the
      // wake name) need the user's words.
      transcriptionModel: settings.captions.enabled || needsUserWords(settings.persona) ? undefined : null,
      wordTimestamps: settings.captions.enabled,
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

function needsUserWords(persona: GuildSettings["persona"]): boolean {
  return smartTurnTaking(persona) || persona.wakeMode !== "off";
}
