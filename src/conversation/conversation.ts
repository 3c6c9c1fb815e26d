import { FRAME_MS, FRAME_SAMPLES_48K } from "../audio/constants.ts";
import { downmixStereo } from "../audio/pcm.ts";
import { createInputResampler, type StreamResampler } from "../audio/resample.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { GuildSettings } from "../persona.ts";
import type { ManagedVoiceConnection, VoiceEnd } from "../voice/connection.ts";
import { DaveRecovery } from "../voice/dave-recovery.ts";
import { OpusQueuePlayer } from "../voice/opus-queue-player.ts";
import { type SpeakerPredicate, SpeakerReceiver } from "../voice/speaker-receiver.ts";
import type {
  ClientEventType,
  ErrorDetails,
  ResponseAudioDeltaEvent,
  SessionConfig,
} from "../voicelive/protocol.ts";
import type { VoiceLiveSession } from "../voicelive/session.ts";
import { CaptionComposer, CaptionWriter, cutTranscript, type SpeakerNames } from "./captions.ts";
import { sharedEncoderWorker } from "./encoder-worker.ts";
import { InputMixer } from "./input-mixer.ts";
import { LatencyRecorder } from "./latency.ts";
import { OutputFeeder } from "./output-feeder.ts";
import { type PlaybackItem, PlaybackLedger, receivedMs } from "./playback-ledger.ts";
import type { Backend, CaptionSink, ConversationStatus, PersonaApplyResult } from "./types.ts";

/**
 * One guild's conversation: Discord speakers -> Voice Live, and Voice Live's voice -> Discord, with
 * barge-in, ducking, captions and usage. It owns the guild's voice connection pieces (receiver,
 * player) and its Voice Live session; the manager owns the clock that ticks it.
 */

/** Ducked volume while a user talks over the bot: about -9 dB, still intelligible, clearly yielding. */
const DUCK_GAIN = 0.35;
const RECENT_RESPONSES = 8;
const TRANSCRIPT_LIMIT = 4000;
const MAX_TRANSCRIPTS = 4;
const HOUSEKEEPING_MS = 5_000;
const USAGE_FLUSH_MS = 30_000;

export interface UsageDelta {
  readonly appendedMs: number;
  readonly playedMs: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly totalTokens: number;
}

export interface BargeInInfo {
  /** performance.now() when `speech_started` was handled. */
  readonly at: number;
  readonly itemId: string | undefined;
  readonly playedMs: number;
  readonly receivedMs: number;
  readonly truncateAudioEndMs: number | undefined;
  readonly responseCancelSent: boolean;
  readonly framesFlushed: number;
}

/** Hooks for the simulator, benchmarks and tests; none is needed in production. */
export interface ConversationObserver {
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
}

export interface ConversationOptions {
  readonly guildId: string;
  readonly channelId: string;
  readonly initiatorId: string;
  readonly backend: Backend;
  readonly settings: GuildSettings;
  readonly voice: ManagedVoiceConnection;
  readonly session: VoiceLiveSession;
  /** Builds the session configuration for a persona; problems name the field. */
  readonly sessionConfig: (
    settings: GuildSettings,
  ) => { ok: true; config: SessionConfig } | { ok: false; problems: readonly string[] };
  readonly inputRate: 24_000 | 16_000;
  readonly isAllowedSpeaker: SpeakerPredicate;
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
  readonly observer?: ConversationObserver;
  readonly logger: Logger;
}

export class Conversation {
  readonly guildId: string;
  readonly startedAt = Date.now();
  readonly #options: ConversationOptions;
  readonly #log: Logger;
  readonly #session: VoiceLiveSession;
  readonly #voice: ManagedVoiceConnection;
  readonly #player: OpusQueuePlayer<PlaybackItem>;
  readonly #feeder: OutputFeeder;
  readonly #mixer: InputMixer;
  readonly #ledger = new PlaybackLedger();
  readonly #inputLatency = new LatencyRecorder();
  readonly #outputLatency = new LatencyRecorder();
  readonly #recentResponseMs: number[] = [];
  readonly #speakers = new Map<string, { resampler: StreamResampler; mono: Int16Array }>();
  readonly #transcripts = new Map<string, string>();
  readonly #detach: (() => void)[] = [];
  #receiver: SpeakerReceiver;
  #settings: GuildSettings;
  #captionWriter: CaptionWriter | undefined;
  #composer: CaptionComposer | undefined;
  #currentItem: PlaybackItem | undefined;
  #lastSpeechAt = Number.NEGATIVE_INFINITY;
  #awaitingFirstAudio = false;
  #lastSlotAt = Number.NEGATIVE_INFINITY;
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
  readonly #dave: DaveRecovery;
  #ended = false;

  constructor(options: ConversationOptions) {
    this.#options = options;
    this.guildId = options.guildId;
    this.#settings = options.settings;
    this.#log = options.logger;
    this.#session = options.session;
    this.#voice = options.voice;
    const tailMs = options.settings.persona.turnDetection.silenceDurationMs + 500;
    this.#mixer = new InputMixer({
      frameSamples: (options.inputRate * FRAME_MS) / 1000,
      tailMs,
      onFrameLatency: this.#recordInputLatency,
      catchUp: true,
    });
    this.#player = new OpusQueuePlayer<PlaybackItem>({ logger: this.#log });
    this.#player.attach(options.voice.connection);
    this.#feeder = new OutputFeeder({
      player: this.#player,
      encoder: (sink) => sharedEncoderWorker().open(sink),
      onFrameSent: this.#botFrameSent,
    });
    this.#receiver = this.#newReceiver();
    this.#dave = new DaveRecovery({
      connection: options.voice.connection,
      speakers: () => this.#receiver.stats(),
      onStuck: (userId) => this.#recoverDave(userId),
      logger: this.#log,
    });
    this.#configureCaptions(options.settings);
    this.#wireSession();
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

  /** Frames dropped on the input side (jitter queues) and output side (buffer cap). */
  get droppedFrames(): { input: number; output: number } {
    return { input: this.#mixer.droppedFrames, output: this.#feeder.droppedFrames };
  }

  /** Input audio Voice Live never got: send buffer overflow, or offered while disconnected. */
  get voiceLiveDroppedAudioMs(): number {
    return this.#session.droppedAudioMs;
  }

  /** The voice channel the bot is in now: a moderator may have moved it since the join. */
  get channelId(): string {
    return this.#voice.channelId;
  }

  status(): ConversationStatus {
    return {
      guildId: this.guildId,
      channelId: this.channelId,
      backend: this.#options.backend,
      voiceConnection: this.#voice.status,
      voiceLive: this.#session.state,
      startedAt: this.startedAt,
      speakers: this.#speakers.size,
      botSpeaking: this.#feeder.speaking,
      bridgeInputLatencyMs: this.#inputLatency.figures(),
      bridgeOutputLatencyMs: this.#outputLatency.figures(),
      recentResponseMs: [...this.#recentResponseMs],
      daveDecryptFailures: this.#dave.failures(),
      daveRecoveries: this.#dave.recoveries,
    };
  }

  /** One 20 ms step of the input clock: mix what each speaker queued and append it. */
  tick(now: number): void {
    if (this.#ended) return;
    // Hold times run to when the append really leaves: `now` is when the tick was due, and a late
    // tick (or one late in a long loop over guilds) would otherwise under-report them.
    const frame = this.#mixer.tick(performance.now());
    if (frame === undefined) return;
    this.#session.appendAudio(frame.pcm);
    const appendedMs = (frame.pcm.length * 1000) / this.#options.inputRate;
    this.#pendingUsage.appendedMs += appendedMs;
    this.#options.metrics?.framesAppended.inc(appendedMs / FRAME_MS);
    this.#options.observer?.appended?.(frame.pcm, frame.speech, now);
    if (frame.speech) {
      this.#lastSpeechAt = now;
      this.#awaitingFirstAudio = true;
      this.#composer?.speakersHeard(frame.speakers);
      this.#lastActivityAt = now;
    }
  }

  /** Applies new settings live; restarts the Voice Live session when the service cannot change live. */
  async applySettings(settings: GuildSettings): Promise<PersonaApplyResult> {
    const built = this.#options.sessionConfig(settings);
    if (!built.ok) throw new Error(`invalid settings: ${built.problems.join("; ")}`);
    const listenChanged = JSON.stringify(settings.listen) !== JSON.stringify(this.#settings.listen);
    this.#settings = settings;
    if (listenChanged) {
      this.#receiver.close();
      this.#receiver = this.#newReceiver();
    }
    if (!settings.persona.ducking) this.#feeder.setGain(1);
    this.#configureCaptions(settings);
    const outcome = await this.#session.updateSession(built.config);
    switch (outcome.outcome) {
      case "restarted":
        this.#feeder.flush();
        return "restarted";
      case "invalid":
        throw new Error(`invalid settings: ${outcome.problems.join("; ")}`);
      case "rejected":
        throw new Error(`Voice Live rejected the settings: ${outcome.message}`);
      default:
        return "applied";
    }
  }

  /** Leaves the channel and closes the Voice Live session; idempotent. */
  async end(reason: string): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    this.#log.info({ reason }, "conversation ending");
    clearInterval(this.#housekeeping);
    this.#dave.close();
    this.#reportDrops();
    for (const detach of this.#detach) detach();
    this.#receiver.close();
    this.#feeder.destroy();
    this.#player.destroy();
    this.#captionWriter?.close();
    this.#voice.leave(reason);
    this.#flushUsage();
    await this.#session.close();
    this.#speakers.clear();
  }

  #newReceiver(): SpeakerReceiver {
    return new SpeakerReceiver({
      receiver: this.#voice.connection.receiver,
      isAllowed: this.#options.isAllowedSpeaker,
      onFrame: this.#onSpeakerFrame,
      onLeft: this.#onSpeakerLeft,
      logger: this.#log,
    });
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

  readonly #onSpeakerFrame = (userId: string, pcmStereo48k: Int16Array, receivedAt: number): void => {
    let speaker = this.#speakers.get(userId);
    if (speaker === undefined) {
      speaker = {
        resampler: createInputResampler(this.#options.inputRate),
        mono: new Int16Array(FRAME_SAMPLES_48K),
      };
      this.#speakers.set(userId, speaker);
    }
    this.#options.metrics?.framesIn.inc();
    downmixStereo(pcmStereo48k, speaker.mono);
    this.#mixer.push(userId, speaker.resampler.process(speaker.mono), receivedAt);
  };

  /** Someone left: their resampler and mix queue go, so /status counts only who is here. */
  readonly #onSpeakerLeft = (userId: string): void => {
    this.#speakers.delete(userId);
    this.#mixer.removeSpeaker(userId);
  };

  readonly #recordInputLatency = (ms: number): void => {
    this.#inputLatency.record(ms);
    this.#options.metrics?.inputLatency.observe(ms / 1000);
    this.#options.observer?.inputFrameHeld?.(ms);
  };

  readonly #botFrameSent = (item: PlaybackItem, audioReceivedAt: number): void => {
    const now = performance.now();
    // Held time: from when the frame could have gone out (its audio arrived and the previous frame
    // of the burst left a frame period ago) to when the player took it.
    const slot =
      now - this.#lastSlotAt < 3 * FRAME_MS ? this.#lastSlotAt + FRAME_MS : Number.NEGATIVE_INFINITY;
    this.#lastSlotAt = now;
    const heldMs = Math.max(0, now - Math.max(audioReceivedAt, slot));
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
    this.#options.observer?.botFrameSent?.(item, audioReceivedAt, now);
  };

  #wireSession(): void {
    const session = this.#session;
    this.#detach.push(
      session.on("input_audio_buffer.speech_started", (event) => {
        const now = performance.now();
        this.#options.observer?.speechStarted?.(now);
        this.#composer?.userTurnStarted(event.item_id);
        this.#bargeIn(now);
      }),
      session.on("input_audio_buffer.speech_stopped", () => {
        this.#composer?.userTurnEnded();
        this.#options.observer?.speechStopped?.(performance.now());
      }),
      session.on("response.output_item.added", (event) => {
        const item = event.item;
        if (item?.type === "message" && item.role === "assistant" && item.id !== undefined) {
          this.#composer?.assistantItemStarted(item.id);
        }
      }),
      session.on("response.audio.delta", this.#onAudioDelta),
      session.on("response.audio.done", (event) => {
        const item = this.#ledger.find(event.item_id);
        if (item !== undefined && !this.#ledger.isCancelled(event.response_id)) {
          this.#feeder.endItem(item, performance.now());
        }
      }),
      session.on("response.audio_transcript.delta", (event) => {
        if (this.#ledger.isCancelled(event.response_id)) return;
        const text = (this.#transcripts.get(event.item_id) ?? "") + event.delta;
        this.#rememberTranscript(event.item_id, text);
      }),
      session.on("response.audio_transcript.done", (event) => {
        if (this.#ledger.isCancelled(event.response_id)) return;
        // Kept while the item may still be playing: a barge-in then cuts it to what was heard.
        this.#rememberTranscript(event.item_id, event.transcript);
        this.#composer?.assistantTranscript(event.item_id, event.transcript, false);
      }),
      session.on("conversation.item.input_audio_transcription.completed", (event) => {
        this.#composer?.userTranscript(event.item_id, event.transcript);
      }),
      session.on("response.done", (event) => {
        this.#options.observer?.responseDone?.(event.response.status);
        const usage = event.response.usage;
        if (usage !== undefined && usage !== null) {
          this.#pendingUsage.inputTokens += usage.input_tokens ?? 0;
          this.#pendingUsage.outputTokens += usage.output_tokens ?? 0;
          this.#pendingUsage.totalTokens += usage.total_tokens ?? 0;
          this.#options.metrics?.tokens.inc({ direction: "input" }, usage.input_tokens ?? 0);
          this.#options.metrics?.tokens.inc({ direction: "output" }, usage.output_tokens ?? 0);
        }
      }),
      session.on("conversation.item.truncated", (event) => {
        this.#options.observer?.itemTruncated?.(event.item_id, event.audio_end_ms);
      }),
      session.on("error", (event) => {
        this.#options.observer?.voiceLiveError?.(event.error);
        this.#options.metrics?.voiceLiveErrors.inc({
          code: event.error.code ?? event.error.type ?? "unknown",
        });
      }),
      session.on("reconnecting", (info) => {
        // The response in flight died with the socket; what is queued would answer a lost context.
        this.#feeder.flush();
        this.#currentItem = undefined;
        if (!this.#outageNotified) {
          this.#outageNotified = true;
          this.#options.metrics?.reconnects.inc({ side: "voicelive" });
          this.#log.warn({ reason: info.reason }, "Voice Live connection lost; reconnecting");
          this.#notify(
            "Lost the connection to the voice service; reconnecting. Anything said meanwhile is not heard.",
          );
        }
      }),
      session.on("reconnected", () => {
        this.#outageNotified = false;
        this.#log.info("Voice Live reconnected; persona re-applied");
      }),
      session.on("failed", (info) => {
        this.#notify(`The voice service connection failed: ${info.message}`);
        this.#endBySelf(`Voice Live failed: ${info.message}`);
      }),
    );
  }

  #wireVoice(): void {
    const voice = this.#voice;
    const onReconnecting = (info: { reason: string }): void => {
      this.#options.metrics?.reconnects.inc({ side: "discord" });
      this.#log.info({ reason: info.reason }, "Discord voice reconnecting; Voice Live session kept");
    };
    const onReady = (info: { reconnected: boolean }): void => {
      if (info.reconnected) this.#log.info("Discord voice reconnected");
    };
    const onDestroyed = (end: VoiceEnd): void => {
      if (end.kind !== "left") this.#notify(`Conversation ended: ${end.message}.`);
      this.#endBySelf(end.message);
    };
    voice.on("reconnecting", onReconnecting);
    voice.on("ready", onReady);
    voice.on("destroyed", onDestroyed);
    this.#detach.push(() => {
      voice.off("reconnecting", onReconnecting);
      voice.off("ready", onReady);
      voice.off("destroyed", onDestroyed);
    });
    const speaking = voice.connection.receiver.speaking;
    // Only people the bot listens to duck it: a music bot in the channel must not.
    const onStart = (userId: string): void => {
      if (this.#settings.persona.ducking && this.#feeder.speaking && this.#receiver.hears(userId)) {
        this.#feeder.setGain(DUCK_GAIN);
      }
    };
    const onEnd = (): void => {
      if (speaking.users.size === 0) this.#feeder.setGain(1);
    };
    speaking.on("start", onStart);
    speaking.on("end", onEnd);
    this.#detach.push(() => {
      speaking.off("start", onStart);
      speaking.off("end", onEnd);
    });
  }

  readonly #onAudioDelta = (event: ResponseAudioDeltaEvent, pcm: Int16Array): void => {
    if (this.#ended || this.#ledger.isCancelled(event.response_id)) return;
    const item = this.#ledger.item(event.response_id, event.item_id);
    this.#currentItem = item;
    this.#feeder.push(item, pcm, performance.now());
  };

  /**
   * In this same turn of the event loop, stop the bot, cancel what is still being
   * generated, and tell the model how much of its answer the channel heard.
   */
  #bargeIn(at: number): void {
    const item = this.#currentItem;
    const responseActive = this.#session.responseActive;
    if (!this.#feeder.speaking && !responseActive) return;
    const framesFlushed = this.#feeder.flush();
    this.#feeder.setGain(1);
    let responseCancelSent = false;
    if (responseActive) {
      const activeId = this.#session.activeResponseId;
      if (activeId !== undefined) this.#ledger.cancelResponse(activeId);
      responseCancelSent = this.#session.cancelResponse();
    }
    let truncateAudioEndMs: number | undefined;
    let playedMs = 0;
    let heard = 0;
    if (item !== undefined) {
      this.#ledger.cancelResponse(item.responseId);
      playedMs = this.#ledger.playedMs(item.itemId);
      heard = receivedMs(item);
      if (playedMs < heard || responseActive) {
        truncateAudioEndMs = playedMs;
        this.#session.truncateItem(item.itemId, playedMs);
        const transcript = this.#transcripts.get(item.itemId);
        if (transcript !== undefined) {
          this.#composer?.assistantTranscript(item.itemId, cutTranscript(transcript, playedMs, heard), true);
        }
      }
      this.#transcripts.delete(item.itemId);
      this.#currentItem = undefined;
    }
    this.#options.metrics?.bargeIns.inc();
    this.#log.debug({ itemId: item?.itemId, playedMs, heardMs: heard, framesFlushed }, "barge-in");
    this.#options.observer?.bargeIn?.({
      at,
      itemId: item?.itemId,
      playedMs,
      receivedMs: heard,
      truncateAudioEndMs,
      responseCancelSent,
      framesFlushed,
    });
  }

  /** Only the items that may still be playing matter; older transcripts are dropped. */
  #rememberTranscript(itemId: string, text: string): void {
    this.#transcripts.set(itemId, text.slice(0, TRANSCRIPT_LIMIT));
    if (this.#transcripts.size > MAX_TRANSCRIPTS) {
      const oldest = this.#transcripts.keys().next().value;
      if (oldest !== undefined) this.#transcripts.delete(oldest);
    }
  }

  #housekeep(): void {
    const now = performance.now();
    this.#reportDrops();
    if (now - this.#lastUsageFlushAt >= USAGE_FLUSH_MS) this.#flushUsage();
    if (this.#feeder.speaking) this.#lastActivityAt = now;
    if (now - this.#lastActivityAt >= this.#options.idleTimeoutMs) {
      this.#notify("Leaving: nobody has spoken for a while.");
      this.#endBySelf("idle timeout");
    }
  }

  #endBySelf(reason: string): void {
    if (this.#ended) return;
    this.#options.onEnded(reason);
  }

  /**
   * A speaker stayed undecryptable after the library's own DAVE recovery: rejoin for a fresh voice
   * and DAVE session. The Voice Live session is untouched, so the conversation goes on.
   */
  #recoverDave(userId: string): void {
    if (this.#ended) return;
    this.#voice.rejoin();
    this.#notify(
      `I could not decrypt <@${userId}>'s voice after an encryption key change, so I rejoined the channel. ` +
        "The conversation continues.",
    );
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
    const now = {
      jitter_queue: this.#mixer.droppedFrames,
      voicelive_send: Math.floor(this.#session.droppedAudioMs / FRAME_MS),
      playback_buffer: this.#feeder.droppedFrames,
      decode_error: this.#receiver.stats().reduce((sum, speaker) => sum + speaker.decodeErrors, 0),
      dave_decrypt: this.#dave.totalFailures,
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
