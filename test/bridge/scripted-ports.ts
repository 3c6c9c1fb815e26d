import { FRAME_MS, FRAME_SAMPLES_24K, VOICE_LIVE_OUTPUT_RATE } from "../../src/audio/constants.ts";
import { JitterRing } from "../../src/audio/jitter-ring.ts";
import type {
  Interruption,
  OutputPort,
  PlaybackItem,
  RealtimeEvents,
  RealtimePort,
  SpeakerSource,
  VoiceChannelCounters,
  VoiceChannelEvents,
  VoiceChannelPort,
} from "../../src/bridge/ports.ts";
import { TypedEmitter } from "../../src/util/typed-emitter.ts";
import type { ConversationItem, SessionConfig } from "../../src/voicelive/protocol.ts";
import type { SessionUpdateOutcome } from "../../src/voicelive/session-events.ts";

/**
 * Scripted implementations of the bridge's two ports (in the spirit of openai-agents-js's
 * scripted transport): a test says what the service sends and how many frames the channel plays,
 * and reads back what the bridge sent and what the channel heard. No sockets, no timers.
 */

export interface Truncation {
  readonly itemId: string;
  readonly audioEndMs: number;
  readonly contentIndex: number | undefined;
}

/** A Voice Live session as a script: the test plays the service's events. */
export class ScriptedRealtime extends TypedEmitter<RealtimeEvents> implements RealtimePort {
  state = "ready";
  responseActive = false;
  activeResponseId: string | undefined;
  droppedAudioMs = 0;
  /** Every append, copied. */
  readonly appends: Int16Array[] = [];
  readonly truncations: Truncation[] = [];
  /** Items the bridge created (speaker notes, tool outputs), in order. */
  readonly items: ConversationItem[] = [];
  responsesRequested = 0;
  readonly updates: SessionConfig[] = [];
  cancels = 0;
  closed = false;
  #nextEvent = 0;

  appendAudio(pcm: Int16Array): void {
    this.appends.push(pcm.slice());
  }

  cancelResponse(): boolean {
    if (!this.responseActive) return false;
    this.cancels++;
    this.responseActive = false;
    return true;
  }

  truncateItem(itemId: string, audioEndMs: number, contentIndex?: number): boolean {
    this.truncations.push({ itemId, audioEndMs, contentIndex });
    return true;
  }

  createItem(item: ConversationItem): boolean {
    this.items.push(item);
    return true;
  }

  createResponse(): boolean {
    this.responsesRequested++;
    return true;
  }

  async updateSession(config: SessionConfig): Promise<SessionUpdateOutcome> {
    this.updates.push(config);
    return { outcome: "applied" };
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** The service starts generating a response. */
  startResponse(responseId: string): void {
    this.responseActive = true;
    this.activeResponseId = responseId;
  }

  /** `ms` of assistant audio (a constant tone, 24 kHz) for an item, in one delta. */
  audio(responseId: string, itemId: string, ms: number, contentIndex = 0): void {
    const pcm = new Int16Array((ms * VOICE_LIVE_OUTPUT_RATE) / 1000).fill(1000);
    this.emit(
      "response.audio.delta",
      { type: "response.audio.delta", ...this.#scope(responseId, itemId, contentIndex), delta: "" },
      pcm,
    );
  }

  audioDone(responseId: string, itemId: string): void {
    this.emit("response.audio.done", { type: "response.audio.done", ...this.#scope(responseId, itemId, 0) });
  }

  assistantItem(responseId: string, itemId: string): void {
    this.emit("response.output_item.added", {
      type: "response.output_item.added",
      response_id: responseId,
      output_index: 0,
      item: { type: "message", role: "assistant", id: itemId, content: [] },
    });
  }

  transcriptDone(responseId: string, itemId: string, transcript: string): void {
    this.emit("response.audio_transcript.done", {
      type: "response.audio_transcript.done",
      ...this.#scope(responseId, itemId, 0),
      transcript,
    });
  }

  /** The model calls a function (its arguments complete at once). */
  functionCall(responseId: string, callId: string, name: string, args: string): void {
    this.emit("response.function_call_arguments.done", {
      type: "response.function_call_arguments.done",
      response_id: responseId,
      item_id: `item-${callId}`,
      output_index: 0,
      call_id: callId,
      name,
      arguments: args,
    });
  }

  /** One word's timestamp in an item's audio. */
  word(responseId: string, itemId: string, text: string, offsetMs: number, durationMs: number): void {
    this.emit("response.audio_timestamp.delta", {
      type: "response.audio_timestamp.delta",
      ...this.#scope(responseId, itemId, 0),
      audio_offset_ms: offsetMs,
      audio_duration_ms: durationMs,
      text,
      timestamp_type: "word",
    });
  }

  userTranscript(itemId: string, transcript: string): void {
    this.emit("conversation.item.input_audio_transcription.completed", {
      type: "conversation.item.input_audio_transcription.completed",
      item_id: itemId,
      content_index: 0,
      transcript,
    });
  }

  speechStarted(itemId: string): void {
    this.emit("input_audio_buffer.speech_started", {
      type: "input_audio_buffer.speech_started",
      audio_start_ms: 0,
      item_id: itemId,
    });
  }

  speechStopped(itemId: string): void {
    this.emit("input_audio_buffer.speech_stopped", {
      type: "input_audio_buffer.speech_stopped",
      audio_end_ms: 0,
      item_id: itemId,
    });
  }

  responseDone(responseId: string, status: "completed" | "cancelled" = "completed"): void {
    this.responseActive = false;
    this.activeResponseId = undefined;
    this.emit("response.done", {
      type: "response.done",
      response: { id: responseId, object: "realtime.response", status, output: [] },
    });
  }

  /** Any other session event (lifecycle: reconnecting, failed, ...). */
  happen<K extends keyof RealtimeEvents>(name: K, ...args: Parameters<RealtimeEvents[K]>): void {
    this.emit(name, ...args);
  }

  #scope(responseId: string, itemId: string, contentIndex: number) {
    return {
      event_id: `event-${++this.#nextEvent}`,
      response_id: responseId,
      item_id: itemId,
      output_index: 0,
      content_index: contentIndex,
    };
  }
}

interface QueuedFrame {
  readonly item: PlaybackItem;
  readonly receivedAt: number;
}

/** The bot's output as a script: the test says how many frames the channel plays. */
export class ScriptedOutput implements OutputPort {
  readonly #items = new Map<string, PlaybackItem>();
  readonly #queue: QueuedFrame[] = [];
  readonly #frameSent: (item: PlaybackItem, audioReceivedAt: number) => void;
  #partialSamples = 0;
  #current: PlaybackItem | undefined;
  gain = 1;
  paused = false;

  constructor(frameSent: (item: PlaybackItem, audioReceivedAt: number) => void) {
    this.#frameSent = frameSent;
  }

  get speaking(): boolean {
    return this.#queue.length > 0;
  }

  play(
    responseId: string,
    itemId: string,
    contentIndex: number,
    pcm24k: Int16Array,
    receivedAt: number,
  ): void {
    let item = this.#items.get(itemId);
    if (item === undefined) {
      item = { responseId, itemId, contentIndex, receivedSamples: 0, framesSent: 0, firstSentAt: undefined };
      this.#items.set(itemId, item);
    }
    this.#current = item;
    item.receivedSamples += pcm24k.length;
    this.#partialSamples += pcm24k.length;
    while (this.#partialSamples >= FRAME_SAMPLES_24K) {
      this.#partialSamples -= FRAME_SAMPLES_24K;
      this.#queue.push({ item, receivedAt });
    }
  }

  endItem(itemId: string, receivedAt: number): void {
    const item = this.#items.get(itemId);
    if (item !== undefined && this.#partialSamples > 0) this.#queue.push({ item, receivedAt });
    this.#partialSamples = 0;
  }

  pause(): void {
    this.paused = true;
    this.gain = 1;
  }

  resume(): void {
    this.paused = false;
  }

  interrupt(): Interruption {
    this.paused = false;
    const framesFlushed = this.#queue.length;
    this.#queue.length = 0;
    this.#partialSamples = 0;
    this.gain = 1;
    const item = this.#current;
    this.#current = undefined;
    if (item === undefined) return { position: undefined, framesFlushed };
    const receivedMs = Math.floor((item.receivedSamples * 1000) / VOICE_LIVE_OUTPUT_RATE);
    return {
      position: {
        responseId: item.responseId,
        itemId: item.itemId,
        contentIndex: item.contentIndex,
        playedMs: Math.min(item.framesSent * FRAME_MS, receivedMs),
        receivedMs,
      },
      framesFlushed,
    };
  }

  setGain(gain: number): void {
    this.gain = gain;
  }

  /** The channel plays up to `frames` queued frames (none while paused), reporting each as the real player does. */
  playFrames(frames: number): void {
    for (let i = 0; i < frames && !this.paused; i++) {
      const next = this.#queue.shift();
      if (next === undefined) return;
      next.item.framesSent++;
      this.#frameSent(next.item, next.receivedAt);
    }
  }
}

/** A Discord voice channel as a script: the test says who speaks and what happens to the connection. */
export class ScriptedVoiceChannel extends TypedEmitter<VoiceChannelEvents> implements VoiceChannelPort {
  channelId = "voice-1";
  status = "ready";
  readonly speakers: SpeakerSource[] = [];
  readonly output = new ScriptedOutput((item, receivedAt) => this.emit("frameSent", item, receivedAt));
  reconsidered = 0;
  leftWith: string | undefined;

  counters(): VoiceChannelCounters {
    return {
      jitterDrops: this.speakers.reduce((sum, speaker) => sum + speaker.ring.dropped, 0),
      outputDrops: 0,
      decodeErrors: 0,
      daveFailures: 0,
      daveFailuresBySpeaker: {},
      daveRejoins: 0,
    };
  }

  hears(userId: string): boolean {
    return this.speakers.some((speaker) => speaker.userId === userId);
  }

  reconsiderSpeakers(): void {
    this.reconsidered++;
  }

  leave(reason: string): void {
    this.leftWith ??= reason;
  }

  /** A 20 ms frame of a speaker at the input rate reaches their ring. */
  speak(userId: string, pcm: Int16Array): void {
    let speaker = this.speakers.find((s) => s.userId === userId);
    if (speaker === undefined) {
      speaker = { userId, ring: new JitterRing(3, pcm.length) };
      this.speakers.push(speaker);
    }
    speaker.ring.push(pcm, performance.now());
  }

  /** The channel's own events: someone starts or stops talking, the connection changes. */
  happen<K extends keyof VoiceChannelEvents>(name: K, ...args: Parameters<VoiceChannelEvents[K]>): void {
    this.emit(name, ...args);
  }
}
