import { FRAME_MS } from "../audio/constants.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics/metrics.ts";
import { type GuildSettings, smartTurnTaking } from "../persona.ts";
import { BoundedMap } from "../util/bounded-map.ts";
import type { ClientEventType, ErrorDetails, ResponseAudioDeltaEvent } from "../voicelive/protocol.ts";
import type { SessionConfigResult } from "../voicelive/session-config.ts";
import {
  CaptionComposer,
  CaptionWriter,
  cutTranscript,
  cutTranscriptAtWords,
  type SpeakerNames,
  type TimedWord,
} from "./captions.ts";
import { OutputHoldClock } from "./figures.ts";
import { InputMixer } from "./input-mixer.ts";
import { LatencyRecorder } from "./latency.ts";
import type {
  OutputPort,
  PlaybackItem,
  PlayedPosition,
  RealtimePort,
  ToolResult,
  ToolRunner,
  VoiceChannelEnd,
  VoiceChannelPort,
} from "./ports.ts";
import { RecentIds } from "./recent-ids.ts";
import { speakerNote } from "./speaker-notes.ts";
import { type TurnPolicy, TurnTaker } from "./turn-taking.ts";
import type { Backend, CaptionSink, ConversationStatus, PersonaApplyResult } from "./types.ts";

/**
 * One guild's conversation, between its voice channel and its realtime session: speakers' mix ->
 * the session, the session's voice -> the channel, with barge-in, ducking, captions and usage.
 * It sees both sides only through their ports; the manager owns the clock that ticks it.
 */

/** Ducked volume while a user talks over the bot: about -9 dB, still intelligible, clearly yielding. */
const DUCK_GAIN = 0.35;
const RECENT_RESPONSES = 8;
const TRANSCRIPT_LIMIT = 4000;
const MAX_TRANSCRIPTS = 4;
/** Word timestamps kept per item: about ten minutes of speech. */
const MAX_TIMED_WORDS = 2_000;
const HOUSEKEEPING_MS = 5_000;
/**
 * Speech this recent counts as part of the turn `speech_started` opens (VAD reacts after onset),
 * unless it came before the previous turn ended.
 */
const TURN_ONSET_MS = 1_500;
/** Quiet this long between two frames of speech starts a new burst. */
const SPEECH_BURST_GAP_MS = 300;
/** Joins and leaves this close together update the instructions once. */
const ROSTER_DEBOUNCE_MS = 1_000;
const USAGE_FLUSH_MS = 30_000;

export interface UsageDelta {
  readonly appendedMs: number;
  readonly playedMs: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly totalTokens: number;
}

export interface BargeInInfo {
  /** performance.now() when the bot's voice stopped: `speech_started`, or the pause before a smart cut. */
  readonly at: number;
  readonly itemId: string | undefined;
  readonly playedMs: number;
  readonly receivedMs: number;
  readonly truncateAudioEndMs: number | undefined;
  readonly responseCancelSent: boolean;
  readonly framesFlushed: number;
}

/** Hooks for the simulator, benchmarks and tests; none is needed in production. */
export interface BridgeObserver {
  /** Exactly the PCM appended to Voice Live (a reused buffer: copy it). */
  appended?(pcm: Int16Array, speech: boolean, at: number): void;
  /** A speaker's frame went into an append: how long our code held it (Discord packet in -> append). */
  inputFrameHeld?(heldMs: number): void;
  /** A frame of bot speech was handed to the connection. */
  botFrameSent?(item: PlaybackItem, audioReceivedAt: number, at: number): void;
  bargeIn?(info: BargeInInfo): void;
  speechStarted?(at: number): void;
  speechStopped?(at: number): void;
  responseDone?(status: string): void;
  /** Every client event sent to Voice Live (the manager passes it to the session). */
  clientEvent?(type: ClientEventType): void;
  /** An `error` event from Voice Live. */
  voiceLiveError?(error: ErrorDetails): void;
  /** Voice Live confirmed a truncation: how much of the item it now keeps. */
  itemTruncated?(itemId: string, audioEndMs: number): void;
  /** The model was told who speaks in a turn (display names). */
  speakersNoted?(names: readonly string[]): void;
  /** A tool call ran (or was refused) and its output went back to the model. */
  toolCalled?(call: ToolCallRecord): void;
  /** `smart`: the bot's voice paused for speech over it. */
  paused?(at: number): void;
  /** `smart`: the held answer went on (the speech was not an interruption). */
  resumed?(at: number, pausedAt: number): void;
  /** The bot asked for a response to a user turn (it answers turns itself: smart or wake name). */
  responseRequested?(at: number): void;
  /** A turn was not answered: the wake name was needed and not said. */
  turnIgnored?(itemId: string): void;
}

interface FinishedCall extends ToolResult {
  readonly callId: string;
  readonly generation: number;
  readonly name: string;
  readonly speakerIds: readonly string[];
  readonly ms: number;
}

export interface ToolCallRecord {
  readonly name: string;
  readonly speakerIds: readonly string[];
  readonly allowed: boolean;
  /** From the call's arguments arriving to its output being sent. */
  readonly ms: number;
}

export interface GuildBridgeOptions {
  readonly guildId: string;
  readonly backend: Backend;
  readonly settings: GuildSettings;
  readonly voice: VoiceChannelPort;
  readonly realtime: RealtimePort;
  /**
   * Builds the session configuration for a persona and the people in the channel (display names,
   * for the instructions when attribution is on); problems name the field.
   */
  readonly sessionConfig: (settings: GuildSettings, roster: readonly string[]) => SessionConfigResult;
  /** A member's display name in the guild, never an id or a mention; undefined when unknown. */
  readonly displayName?: (userId: string) => string | undefined;
  /** Display names of the people (not bots) in the bot's voice channel now. */
  readonly roster?: () => readonly string[];
  /** The guild's tools; without it, function calls are not expected (none are offered). */
  readonly tools?: ToolRunner;
  readonly inputRate: 24_000 | 16_000;
  /** Posts a line in the chat of the voice channel the bot is in now. */
  readonly notify: (text: string, voiceChannelId: string) => Promise<void>;
  readonly captions?: CaptionSink;
  readonly names?: SpeakerNames;
  readonly botName?: string;
  readonly usage?: (delta: UsageDelta) => void;
  readonly metrics?: Metrics;
  readonly idleTimeoutMs: number;
  /** Told once when the conversation ends by itself (idle, voice lost, Voice Live failed). */
  readonly onEnded: (reason: string) => void;
  readonly observer?: BridgeObserver;
  readonly logger: Logger;
}

export class GuildBridge {
  readonly guildId: string;
  readonly startedAt = Date.now();
  readonly #options: GuildBridgeOptions;
  readonly #log: Logger;
  readonly #realtime: RealtimePort;
  readonly #voice: VoiceChannelPort;
  readonly #output: OutputPort;
  readonly #mixer: InputMixer;
  readonly #inputLatency = new LatencyRecorder();
  readonly #outputLatency = new LatencyRecorder();
  readonly #outputHold = new OutputHoldClock();
  readonly #recentResponseMs: number[] = [];
  readonly #transcripts = new BoundedMap<string, string>(MAX_TRANSCRIPTS);
  /** Word timestamps of the items whose transcripts are kept, when the session sends them. */
  readonly #timedWords = new BoundedMap<string, TimedWord[]>(MAX_TRANSCRIPTS);
  /** Responses cut by a barge-in: whatever still arrives of them is not played or captioned. */
  readonly #cancelled = new RecentIds(64);
  readonly #detach: (() => void)[] = [];
  #settings: GuildSettings;
  #captionWriter: CaptionWriter | undefined;
  #composer: CaptionComposer | undefined;
  #lastSpeechAt = Number.NEGATIVE_INFINITY;
  #awaitingFirstAudio = false;
  /** Speech resets this (a number, not a timer per frame); housekeeping checks it. */
  #lastActivityAt = performance.now();
  #lastUsageFlushAt = performance.now();
  #housekeeping: NodeJS.Timeout;
  #pendingUsage = { appendedMs: 0, playedMs: 0, inputTokens: 0, outputTokens: 0, totalTokens: 0 };
  #outageNotified = false;
  #reportedDrops = {
    jitter_queue: 0,
    voicelive_send: 0,
    playback_buffer: 0,
    decode_error: 0,
    dave_decrypt: 0,
  };
  #ended = false;
  /** When each speaker was last heard in the mix (performance.now()). */
  readonly #lastHeardAt = new Map<string, number>();
  /** Who spoke in the current (or last) user turn; a tool call checks their permissions. */
  #turnSpeakers = new Set<string>();
  #turnOpen = false;
  /** When the last user turn ended (speech_stopped): who spoke before it belongs to that turn. */
  #turnEndedAt = Number.NEGATIVE_INFINITY;
  /** The roster the instructions carry now, and the timer of a pending update. */
  #roster: readonly string[] = [];
  #rosterTimer: NodeJS.Timeout | undefined;
  /** Function calls of each response in flight: their outputs go back once it is done. */
  readonly #calls = new Map<string, Promise<FinishedCall>[]>();
  /** Names of function call items by call id (arguments.done may leave the name out). */
  readonly #callNames = new BoundedMap<string, string>(32);
  /** Counts session restarts: a call made before one has no place in the new conversation. */
  #sessionGeneration = 0;
  readonly #turnTaker: TurnTaker;
  /** The bot, not the service, answers turns (smart turn-taking or a wake name). */
  #explicitResponses: boolean;
  /** A response was asked for while another was still active: it is created when that one is done. */
  #responsePending = false;
  /** The current burst of speech started here (performance.now()), for how long an interruption lasts. */
  #speechBurstStartedAt = Number.NEGATIVE_INFINITY;

  constructor(options: GuildBridgeOptions) {
    this.#options = options;
    this.guildId = options.guildId;
    this.#settings = options.settings;
    this.#log = options.logger;
    this.#realtime = options.realtime;
    this.#voice = options.voice;
    this.#output = options.voice.output;
    const tailMs = options.settings.persona.turnDetection.silenceDurationMs + 500;
    this.#mixer = new InputMixer({
      frameSamples: (options.inputRate * FRAME_MS) / 1000,
      tailMs,
      onFrameLatency: this.#recordInputLatency,
      catchUp: true,
    });
    this.#roster = options.roster?.() ?? [];
    const policy = this.#turnPolicy(options.settings);
    this.#explicitResponses = TurnTaker.explicit(policy);
    this.#turnTaker = new TurnTaker(this.#turnActions, policy, () => this.#options.roster?.().length ?? 1);
    this.#configureCaptions(options.settings);
    this.#wireRealtime();
    this.#wireVoice();
    this.#housekeeping = setInterval(() => this.#housekeep(), HOUSEKEEPING_MS);
    this.#housekeeping.unref();
  }

  get ended(): boolean {
    return this.#ended;
  }

  get settings(): GuildSettings {
    return this.#settings;
  }

  /** Frames dropped on the input side (jitter rings) and output side (buffer cap). */
  get droppedFrames(): { input: number; output: number } {
    const counters = this.#voice.counters();
    return { input: counters.jitterDrops, output: counters.outputDrops };
  }

  /** Input audio Voice Live never got: send buffer overflow, or offered while disconnected. */
  get voiceLiveDroppedAudioMs(): number {
    return this.#realtime.droppedAudioMs;
  }

  /** The voice channel the bot is in now: a moderator may have moved it since the join. */
  get channelId(): string {
    return this.#voice.channelId;
  }

  status(): ConversationStatus {
    const counters = this.#voice.counters();
    return {
      guildId: this.guildId,
      channelId: this.channelId,
      backend: this.#options.backend,
      voiceConnection: this.#voice.status,
      voiceLive: this.#realtime.state,
      startedAt: this.startedAt,
      speakers: this.#voice.speakers.length,
      botSpeaking: this.#output.speaking,
      bridgeInputLatencyMs: this.#inputLatency.figures(),
      bridgeOutputLatencyMs: this.#outputLatency.figures(),
      recentResponseMs: [...this.#recentResponseMs],
      daveDecryptFailures: counters.daveFailuresBySpeaker,
      daveRecoveries: counters.daveRejoins,
    };
  }

  /** One 20 ms step of the input clock: mix what each speaker queued and append it. */
  tick(now: number): void {
    if (this.#ended) return;
    // Hold times run to when the append really leaves: `now` is when the tick was due, and a late
    // tick (or one late in a long loop over guilds) would otherwise under-report them.
    const at = performance.now();
    const frame = this.#mixer.tick(at, this.#voice.speakers);
    if (this.#turnTaker.holding) this.#turnTaker.tick(at);
    if (frame === undefined) return;
    this.#realtime.appendAudio(frame.pcm);
    const appendedMs = (frame.pcm.length * 1000) / this.#options.inputRate;
    this.#pendingUsage.appendedMs += appendedMs;
    this.#options.metrics?.framesAppended.inc(appendedMs / FRAME_MS);
    this.#options.observer?.appended?.(frame.pcm, frame.speech, now);
    if (frame.speech) {
      if (at - this.#lastSpeechAt > SPEECH_BURST_GAP_MS) this.#speechBurstStartedAt = at;
      this.#turnTaker.heard(at);
      this.#lastSpeechAt = now;
      this.#awaitingFirstAudio = true;
      this.#composer?.speakersHeard(frame.speakers);
      this.#lastActivityAt = now;
      for (let i = 0; i < frame.speakers.length; i++) this.#heard(frame.speakers[i]!, at);
    }
  }

  /** Applies new settings live; restarts the Voice Live session when the service cannot change live. */
  async applySettings(settings: GuildSettings): Promise<PersonaApplyResult> {
    const built = this.#options.sessionConfig(settings, this.#roster);
    if (!built.ok) throw new Error(`invalid settings: ${built.problems.join("; ")}`);
    const listenChanged = JSON.stringify(settings.listen) !== JSON.stringify(this.#settings.listen);
    this.#settings = settings;
    const policy = this.#turnPolicy(settings);
    this.#turnTaker.setPolicy(policy);
    this.#explicitResponses = TurnTaker.explicit(policy);
    if (!policy.smart && this.#output.paused) this.#output.resume();
    if (listenChanged) this.#voice.reconsiderSpeakers();
    if (!settings.persona.ducking) this.#output.setGain(1);
    this.#configureCaptions(settings);
    const outcome = await this.#realtime.updateSession(built.config);
    switch (outcome.outcome) {
      case "restarted":
        this.#sessionGeneration++;
        this.#conversationLost();
        return "restarted";
      case "invalid":
        throw new Error(`invalid settings: ${outcome.problems.join("; ")}`);
      case "rejected":
        throw new Error(`Voice Live rejected the settings: ${outcome.message}`);
      default:
        return "applied";
    }
  }

  /**
   * Someone joined or left the bot's channel: the instructions' roster follows, once for joins and
   * leaves that come close together.
   */
  rosterChanged(): void {
    if (this.#ended || this.#options.roster === undefined || !this.#settings.persona.attribution) return;
    clearTimeout(this.#rosterTimer);
    this.#rosterTimer = setTimeout(() => void this.#updateRoster(), ROSTER_DEBOUNCE_MS);
    this.#rosterTimer.unref();
  }

  /** Leaves the channel and closes the Voice Live session; idempotent. */
  async end(reason: string): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    this.#log.info({ reason }, "conversation ending");
    clearInterval(this.#housekeeping);
    clearTimeout(this.#rosterTimer);
    this.#reportDrops();
    for (const detach of this.#detach) detach();
    this.#captionWriter?.close();
    this.#voice.leave(reason);
    this.#flushUsage();
    await this.#realtime.close();
  }

  #configureCaptions(settings: GuildSettings): void {
    const sink = this.#options.captions;
    if (!settings.captions.enabled || sink === undefined) {
      this.#captionWriter?.close();
      this.#captionWriter = undefined;
      this.#composer = undefined;
      return;
    }
    if (this.#composer !== undefined) return;
    this.#captionWriter = new CaptionWriter(sink, (error) =>
      this.#log.warn({ err: error }, "caption not sent"),
    );
    this.#composer = new CaptionComposer(
      this.#captionWriter,
      this.#options.names ?? { nameOf: (id) => `<@${id}>` },
      this.#options.botName ?? "Bot",
    );
  }

  readonly #recordInputLatency = (ms: number): void => {
    this.#inputLatency.record(ms);
    this.#options.metrics?.inputLatency.observe(ms / 1000);
    this.#options.observer?.inputFrameHeld?.(ms);
  };

  readonly #botFrameSent = (item: PlaybackItem, audioReceivedAt: number): void => {
    const now = performance.now();
    const heldMs = this.#outputHold.heldMs(now, audioReceivedAt);
    this.#outputLatency.record(heldMs);
    this.#options.metrics?.outputLatency.observe(heldMs / 1000);
    this.#options.metrics?.framesOut.inc();
    this.#pendingUsage.playedMs += FRAME_MS;
    if (item.firstSentAt === undefined) {
      item.firstSentAt = now;
      if (this.#awaitingFirstAudio && Number.isFinite(this.#lastSpeechAt)) {
        this.#awaitingFirstAudio = false;
        const responseMs = now - this.#lastSpeechAt;
        this.#recentResponseMs.push(Math.round(responseMs));
        if (this.#recentResponseMs.length > RECENT_RESPONSES) this.#recentResponseMs.shift();
        this.#options.metrics?.responseLatency.observe(responseMs / 1000);
      }
    }
    this.#turnTaker.botSpoke(now);
    this.#options.observer?.botFrameSent?.(item, audioReceivedAt, now);
  };

  #wireRealtime(): void {
    const realtime = this.#realtime;
    this.#detach.push(
      realtime.on("input_audio_buffer.speech_started", (event) => {
        const now = performance.now();
        this.#options.observer?.speechStarted?.(now);
        this.#composer?.userTurnStarted(event.item_id);
        if (!smartTurnTaking(this.#settings.persona)) this.#bargeIn(now);
        if (this.#explicitResponses) {
          const busy = this.#output.speaking || this.#realtime.responseActive;
          // Speech the bridge heard recently is this turn's; otherwise it starts now.
          const recent = now - this.#lastSpeechAt <= TURN_ONSET_MS;
          const onset = recent ? Math.max(this.#speechBurstStartedAt, now - TURN_ONSET_MS) : now;
          this.#turnTaker.speechStarted(event.item_id, now, busy, onset, recent ? this.#lastSpeechAt : now);
        }
        this.#openTurn(now);
      }),
      realtime.on("input_audio_buffer.committed", (event) => {
        if (this.#explicitResponses) this.#turnTaker.committed(event.item_id);
      }),
      realtime.on("conversation.item.input_audio_transcription.failed", (event) => {
        this.#turnTaker.transcript(event.item_id, null, performance.now());
      }),
      realtime.on("input_audio_buffer.speech_stopped", () => {
        this.#turnOpen = false;
        this.#turnEndedAt = performance.now();
        this.#composer?.userTurnEnded();
        this.#options.observer?.speechStopped?.(performance.now());
      }),
      realtime.on("response.output_item.added", (event) => {
        const item = event.item;
        if (item?.type === "message" && item.role === "assistant" && item.id !== undefined) {
          this.#composer?.assistantItemStarted(item.id);
        }
        if (item?.type === "function_call") this.#callNames.set(item.call_id, item.name);
      }),
      realtime.on("response.function_call_arguments.done", (event) => {
        if (this.#cancelled.has(event.response_id)) return;
        this.#startCall(event.response_id, event.call_id, event.name, event.arguments);
      }),
      realtime.on("response.audio.delta", this.#onAudioDelta),
      realtime.on("response.audio.done", (event) => {
        if (!this.#cancelled.has(event.response_id)) this.#output.endItem(event.item_id, performance.now());
      }),
      realtime.on("response.audio_transcript.delta", (event) => {
        if (this.#cancelled.has(event.response_id)) return;
        const text = (this.#transcripts.get(event.item_id) ?? "") + event.delta;
        this.#rememberTranscript(event.item_id, text);
      }),
      realtime.on("response.audio_transcript.done", (event) => {
        if (this.#cancelled.has(event.response_id)) return;
        // Kept while the item may still be playing: a barge-in then cuts it to what was heard.
        this.#rememberTranscript(event.item_id, event.transcript);
        this.#composer?.assistantTranscript(event.item_id, event.transcript, false);
      }),
      realtime.on("response.audio_timestamp.delta", (event) => {
        if (this.#cancelled.has(event.response_id)) return;
        let words = this.#timedWords.get(event.item_id);
        if (words === undefined) {
          words = [];
          this.#timedWords.set(event.item_id, words);
        }
        if (words.length < MAX_TIMED_WORDS) {
          words.push({ text: event.text, endMs: event.audio_offset_ms + event.audio_duration_ms });
        }
      }),
      realtime.on("conversation.item.input_audio_transcription.completed", (event) => {
        this.#composer?.userTranscript(event.item_id, event.transcript);
        this.#turnTaker.transcript(event.item_id, event.transcript, performance.now());
      }),
      realtime.on("response.done", (event) => {
        this.#options.observer?.responseDone?.(event.response.status);
        if (this.#responsePending) {
          this.#responsePending = false;
          this.#requestResponse();
        }
        const calls = this.#calls.get(event.response.id);
        if (calls !== undefined) {
          this.#calls.delete(event.response.id);
          void this.#answerCalls(calls, event.response.status === "completed");
        }
        const usage = event.response.usage;
        if (usage !== undefined && usage !== null) {
          this.#pendingUsage.inputTokens += usage.input_tokens ?? 0;
          this.#pendingUsage.outputTokens += usage.output_tokens ?? 0;
          this.#pendingUsage.totalTokens += usage.total_tokens ?? 0;
          this.#options.metrics?.tokens.inc({ direction: "input" }, usage.input_tokens ?? 0);
          this.#options.metrics?.tokens.inc({ direction: "output" }, usage.output_tokens ?? 0);
        }
      }),
      realtime.on("conversation.item.truncated", (event) => {
        this.#options.observer?.itemTruncated?.(event.item_id, event.audio_end_ms);
      }),
      realtime.on("error", (event) => {
        this.#options.observer?.voiceLiveError?.(event.error);
        this.#options.metrics?.voiceLiveErrors.inc({
          code: event.error.code ?? event.error.type ?? "unknown",
        });
      }),
      realtime.on("reconnecting", (info) => {
        // The response in flight died with the socket; what is queued would answer a lost context.
        this.#conversationLost();
        if (!this.#outageNotified) {
          this.#outageNotified = true;
          this.#options.metrics?.reconnects.inc({ side: "voicelive" });
          this.#log.warn({ reason: info.reason }, "Voice Live connection lost; reconnecting");
          this.#notify(
            "Lost the connection to the voice service; reconnecting. Anything said meanwhile is not heard.",
          );
        }
      }),
      realtime.on("reconnected", () => {
        this.#outageNotified = false;
        this.#log.info("Voice Live reconnected; persona re-applied");
      }),
      realtime.on("failed", (info) => {
        this.#notify(`The voice service connection failed: ${info.message}`);
        this.#endBySelf(`Voice Live failed: ${info.message}`);
      }),
    );
  }

  #wireVoice(): void {
    const voice = this.#voice;
    this.#detach.push(
      voice.on("frameSent", this.#botFrameSent),
      voice.on("reconnecting", (info) => {
        this.#options.metrics?.reconnects.inc({ side: "discord" });
        this.#log.info({ reason: info.reason }, "Discord voice reconnecting; Voice Live session kept");
      }),
      voice.on("ready", (info) => {
        if (info.reconnected) this.#log.info("Discord voice reconnected");
      }),
      voice.on("ended", (end: VoiceChannelEnd) => {
        if (end.kind !== "left") this.#notify(`Conversation ended: ${end.message}.`);
        this.#endBySelf(end.message);
      }),
      voice.on("daveRejoined", (userId) => {
        this.#notify(
          `I could not decrypt <@${userId}>'s voice after an encryption key change, so I rejoined the channel. ` +
            "The conversation continues.",
        );
      }),
      // Only people the bot listens to duck it (the port reports no one else): a music bot must not.
      voice.on("speakingStarted", () => {
        if (this.#settings.persona.ducking && this.#output.speaking) this.#output.setGain(DUCK_GAIN);
      }),
      voice.on("silence", () => this.#output.setGain(1)),
    );
  }

  readonly #onAudioDelta = (event: ResponseAudioDeltaEvent, pcm: Int16Array): void => {
    if (this.#ended || this.#cancelled.has(event.response_id)) return;
    this.#output.play(event.response_id, event.item_id, event.content_index, pcm, performance.now());
  };

  readonly #turnActions = {
    pause: (at: number): void => {
      this.#output.pause();
      this.#options.observer?.paused?.(at);
    },
    resume: (): void => this.#output.resume(),
    cut: (at: number): void => this.#bargeIn(at),
    respond: (note: string | undefined): void => {
      if (note !== undefined) {
        this.#realtime.createItem({
          type: "message",
          role: "system",
          content: [{ type: "input_text", text: note }],
        });
      }
      if (this.#realtime.responseActive) this.#responsePending = true;
      else this.#requestResponse();
    },
    ignored: (itemId: string): void => {
      this.#log.debug({ itemId }, "turn not answered: the wake name was not said");
      this.#options.observer?.turnIgnored?.(itemId);
    },
    resumed: (at: number, pausedAt: number): void => {
      this.#log.debug({ pausedMs: Math.round(at - pausedAt) }, "not an interruption; answer resumed");
      this.#options.observer?.resumed?.(at, pausedAt);
    },
  };

  #requestResponse(): void {
    if (this.#ended) return;
    this.#realtime.createResponse();
    this.#options.observer?.responseRequested?.(performance.now());
  }

  #turnPolicy(settings: GuildSettings): TurnPolicy {
    const persona = settings.persona;
    return {
      smart: smartTurnTaking(persona),
      minInterruptionMs: persona.minInterruptionMs,
      wakeMode: persona.wakeMode,
      wakeName: persona.wakeName ?? this.#options.botName ?? "",
      followUpMs: persona.followUpSeconds * 1000,
      language: persona.transcriptionLanguage,
    };
  }

  /** The conversation's context is gone (reconnect, restart): stop, and forget held turns. */
  #conversationLost(): void {
    this.#output.interrupt();
    this.#turnTaker.reset();
    this.#responsePending = false;
  }

  /**
   * In this same turn of the event loop, stop the bot, cancel what is still being
   * generated, and tell the model how much of its answer the channel heard.
   */
  #bargeIn(at: number): void {
    const responseActive = this.#realtime.responseActive;
    if (!this.#output.speaking && !responseActive) return;
    const { position, framesFlushed } = this.#output.interrupt();
    let responseCancelSent = false;
    if (responseActive) {
      const activeId = this.#realtime.activeResponseId;
      if (activeId !== undefined) this.#cancelled.add(activeId);
      responseCancelSent = this.#realtime.cancelResponse();
    }
    let truncateAudioEndMs: number | undefined;
    if (position !== undefined) {
      this.#cancelled.add(position.responseId);
      const { itemId, contentIndex, playedMs, receivedMs } = position;
      if (playedMs < receivedMs || responseActive) {
        truncateAudioEndMs = playedMs;
        this.#realtime.truncateItem(itemId, playedMs, contentIndex);
        const transcript = this.#transcripts.get(itemId);
        if (transcript !== undefined) {
          this.#composer?.assistantTranscript(itemId, this.#heardPart(itemId, transcript, position), true);
        }
      }
      this.#transcripts.delete(itemId);
      this.#timedWords.delete(itemId);
    }
    this.#options.metrics?.bargeIns.inc();
    this.#log.debug(
      {
        itemId: position?.itemId,
        playedMs: position?.playedMs,
        heardMs: position?.receivedMs,
        framesFlushed,
      },
      "barge-in",
    );
    this.#options.observer?.bargeIn?.({
      at,
      itemId: position?.itemId,
      playedMs: position?.playedMs ?? 0,
      receivedMs: position?.receivedMs ?? 0,
      truncateAudioEndMs,
      responseCancelSent,
      framesFlushed,
    });
  }

  #heard(userId: string, now: number): void {
    this.#lastHeardAt.set(userId, now);
    if (!this.#turnOpen || this.#turnSpeakers.has(userId)) return;
    this.#turnSpeakers.add(userId);
    this.#noteSpeakers([userId], true);
  }

  /** A user turn starts: whoever spoke just now is in it, and the model is told who before the audio. */
  #openTurn(now: number): void {
    this.#turnOpen = true;
    this.#turnSpeakers = new Set();
    for (const [userId, at] of this.#lastHeardAt) {
      if (now - at > TURN_ONSET_MS) this.#lastHeardAt.delete(userId);
      else if (at > this.#turnEndedAt) this.#turnSpeakers.add(userId);
    }
    if (this.#turnSpeakers.size > 0) this.#noteSpeakers([...this.#turnSpeakers], false);
  }

  /**
   * A short system item naming the turn's speakers. It is created while they are still talking, so
   * it lands before their audio item (committed when the turn ends) and delays nothing.
   */
  #noteSpeakers(userIds: readonly string[], joining: boolean): void {
    const displayName = this.#options.displayName;
    if (!this.#settings.persona.attribution || displayName === undefined) return;
    const names = userIds.map((userId) => displayName(userId) ?? "someone");
    this.#realtime.createItem({
      type: "message",
      role: "system",
      content: [{ type: "input_text", text: speakerNote(names, joining) }],
    });
    this.#options.observer?.speakersNoted?.(names);
  }

  async #updateRoster(): Promise<void> {
    const roster = this.#options.roster?.() ?? [];
    if (this.#ended || sameNames(roster, this.#roster)) return;
    this.#roster = roster;
    const built = this.#options.sessionConfig(this.#settings, roster);
    if (!built.ok) {
      this.#log.warn(
        { problems: built.problems },
        "roster not applied: the session configuration is invalid",
      );
      return;
    }
    const outcome = await this.#realtime.updateSession(built.config);
    if (outcome.outcome === "invalid" || outcome.outcome === "rejected") {
      this.#log.warn({ outcome }, "roster not applied");
    }
  }

  /** Runs a call at once (it may take a while); its output waits for the end of its response. */
  #startCall(responseId: string, callId: string, eventName: string | undefined, args: string): void {
    const tools = this.#options.tools;
    const name = eventName ?? this.#callNames.get(callId) ?? "";
    const speakerIds = [...this.#turnSpeakers];
    const startedAt = performance.now();
    const generation = this.#sessionGeneration;
    const run =
      tools === undefined
        ? Promise.resolve({ output: JSON.stringify({ error: "This bot has no tools." }), allowed: false })
        : tools.run({ callId, name, arguments: args, speakerIds });
    const finished = run.then(
      (result): FinishedCall => ({
        ...result,
        ms: performance.now() - startedAt,
        callId,
        name,
        speakerIds,
        generation,
      }),
    );
    const calls = this.#calls.get(responseId) ?? [];
    calls.push(finished);
    this.#calls.set(responseId, calls);
  }

  /** Gives the model the calls' outputs and lets it answer with them (unless the turn was cut). */
  async #answerCalls(runs: readonly Promise<FinishedCall>[], respond: boolean): Promise<void> {
    const results = await Promise.all(runs);
    if (this.#ended) return;
    for (const result of results) {
      // A tool that restarted the session (a new voice) answers in the new conversation as a note:
      // its call is not there for an output to refer to.
      this.#realtime.createItem(
        result.generation === this.#sessionGeneration
          ? { type: "function_call_output", call_id: result.callId, output: result.output }
          : {
              type: "message",
              role: "system",
              content: [{ type: "input_text", text: `You ran ${result.name}: ${result.output}` }],
            },
      );
      this.#options.observer?.toolCalled?.({
        name: result.name,
        speakerIds: result.speakerIds,
        allowed: result.allowed,
        ms: result.ms,
      });
      this.#log.info({ tool: result.name, allowed: result.allowed, ms: Math.round(result.ms) }, "tool call");
    }
    if (respond && !this.#realtime.responseActive) this.#realtime.createResponse();
  }

  /** What the channel heard of a cut answer: to the last word played, or in proportion without timestamps. */
  #heardPart(itemId: string, transcript: string, position: PlayedPosition): string {
    const words = this.#timedWords.get(itemId);
    const byWords =
      words === undefined ? undefined : cutTranscriptAtWords(transcript, words, position.playedMs);
    return byWords ?? cutTranscript(transcript, position.playedMs, position.receivedMs);
  }

  /** Only the items that may still be playing matter; older transcripts are dropped. */
  #rememberTranscript(itemId: string, text: string): void {
    this.#transcripts.set(itemId, text.slice(0, TRANSCRIPT_LIMIT));
  }

  #housekeep(): void {
    const now = performance.now();
    this.#reportDrops();
    if (now - this.#lastUsageFlushAt >= USAGE_FLUSH_MS) this.#flushUsage();
    if (this.#output.speaking) this.#lastActivityAt = now;
    if (now - this.#lastActivityAt >= this.#options.idleTimeoutMs) {
      this.#notify("Leaving: nobody has spoken for a while.");
      this.#endBySelf("idle timeout");
    }
  }

  #endBySelf(reason: string): void {
    if (this.#ended) return;
    this.#options.onEnded(reason);
  }

  #notify(text: string): void {
    this.#options
      .notify(text, this.channelId)
      .catch((error: unknown) => this.#log.warn({ err: error }, "notice not sent"));
  }

  /** Adds the drops counted since the last report to the Prometheus counter, by where they happened. */
  #reportDrops(): void {
    const metrics = this.#options.metrics;
    if (metrics === undefined) return;
    const counters = this.#voice.counters();
    const now = {
      jitter_queue: counters.jitterDrops,
      voicelive_send: Math.floor(this.#realtime.droppedAudioMs / FRAME_MS),
      playback_buffer: counters.outputDrops,
      decode_error: counters.decodeErrors,
      dave_decrypt: counters.daveFailures,
    };
    for (const stage of Object.keys(now) as (keyof typeof now)[]) {
      const delta = now[stage] - this.#reportedDrops[stage];
      if (delta > 0) metrics.droppedFrames.inc({ stage }, delta);
    }
    this.#reportedDrops = now;
  }

  #flushUsage(): void {
    this.#lastUsageFlushAt = performance.now();
    const usage = this.#pendingUsage;
    if (usage.appendedMs === 0 && usage.playedMs === 0 && usage.totalTokens === 0) return;
    this.#pendingUsage = { appendedMs: 0, playedMs: 0, inputTokens: 0, outputTokens: 0, totalTokens: 0 };
    try {
      this.#options.usage?.(usage);
    } catch (error) {
      this.#log.warn({ err: error }, "usage not recorded");
    }
  }
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((name, i) => name === b[i]);
}
