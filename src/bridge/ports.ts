import type { JitterRing } from "../audio/jitter-ring.ts";
import type { ConversationItem, FunctionTool, SessionConfig } from "../voicelive/protocol.ts";
import type { SessionUpdateOutcome, VoiceLiveSessionEvents } from "../voicelive/session-events.ts";

/**
 * The two sides the bridge connects, as the bridge needs them and nothing more. `src/voice/`
 * implements the voice channel over @discordjs/voice, `src/voicelive/` the realtime session over
 * Voice Live's WebSocket; tests drive the bridge through scripted implementations of both.
 */

/** Removes the listener it was returned for. */
export type Detach = () => void;

/** One person the bot listens to: their frames, at the session's input rate, wait here for the mix. */
export interface SpeakerSource {
  readonly userId: string;
  readonly ring: JitterRing;
}

/** What the channel heard of the assistant item that was playing when output stopped. */
export interface PlayedPosition {
  readonly responseId: string;
  readonly itemId: string;
  readonly contentIndex: number;
  /** Milliseconds of the item that reached the channel. */
  readonly playedMs: number;
  /** Milliseconds of the item received from the service so far. */
  readonly receivedMs: number;
}

export interface Interruption {
  /** Undefined when nothing had been played or queued since the last interruption. */
  readonly position: PlayedPosition | undefined;
  /** Frames that were queued and will now never be heard. */
  readonly framesFlushed: number;
}

/** An assistant item whose audio is being played. */
export interface PlaybackItem {
  readonly responseId: string;
  readonly itemId: string;
  readonly contentIndex: number;
  /** Audio received for this item, in 24 kHz samples (exact; converted to ms on demand). */
  receivedSamples: number;
  framesSent: number;
  /** When the first frame of the item reached the channel (performance.now()), or undefined. */
  firstSentAt: number | undefined;
}

/** How the voice connection ended, in words for the channel. */
export interface VoiceChannelEnd {
  /** `left`: we left on purpose; anything else happened to us. */
  readonly kind: string;
  readonly message: string;
}

export type VoiceChannelEvents = {
  /** Someone the bot listens to started talking (bots and unheard members do not count). */
  speakingStarted: (userId: string) => void;
  /** Nobody in the channel is talking any more. */
  silence: () => void;
  /** A frame of bot speech was handed to the connection; its audio arrived at `audioReceivedAt`. */
  frameSent: (item: PlaybackItem, audioReceivedAt: number) => void;
  reconnecting: (info: { readonly reason: string }) => void;
  ready: (info: { readonly reconnected: boolean }) => void;
  /** The connection is gone for good. */
  ended: (end: VoiceChannelEnd) => void;
  /** A speaker stayed undecryptable, so the channel was rejoined for fresh DAVE keys. */
  daveRejoined: (userId: string) => void;
};

export interface VoiceChannelCounters {
  /** Input frames lost in the speakers' jitter rings. */
  readonly jitterDrops: number;
  /** Output frames refused (buffer cap) or lost by the encoder. */
  readonly outputDrops: number;
  readonly decodeErrors: number;
  readonly daveFailures: number;
  /** DAVE decrypt failures per speaker (user id -> frames lost). */
  readonly daveFailuresBySpeaker: Readonly<Record<string, number>>;
  readonly daveRejoins: number;
}

/** The bot's voice on its way into the channel, and the record of how much of it was heard. */
export interface OutputPort {
  /** The bot has audio queued or playing. */
  readonly speaking: boolean;
  /** Queues 24 kHz mono PCM of an assistant item (a reused buffer: it is copied). */
  play(
    responseId: string,
    itemId: string,
    contentIndex: number,
    pcm24k: Int16Array,
    receivedAt: number,
  ): void;
  /** The item's audio is complete: its last partial frame plays out. */
  endItem(itemId: string, receivedAt: number): void;
  /** Stops the bot now (at most one prepared frame still leaves) and says where the item stopped. */
  interrupt(): Interruption;
  /**
   * Stops the bot as interrupt() does, but holds what it has not said yet (and what still arrives)
   * for resume(); interrupt() drops it. Played positions stay where the channel stopped hearing.
   */
  pause(): void;
  /** Plays the held audio from where it stopped. */
  resume(): void;
  readonly paused: boolean;
  /** Volume of frames not yet encoded; ducking sets it below 1. */
  setGain(gain: number): void;
}

export interface VoiceChannelPort {
  /** The voice channel the bot is in now (a moderator may have moved it). */
  readonly channelId: string;
  /** The connection's state, for /status. */
  readonly status: string;
  /** Everyone being listened to now; the mixer reads their rings on every tick. */
  readonly speakers: readonly SpeakerSource[];
  readonly output: OutputPort;
  counters(): VoiceChannelCounters;
  /** Whether this user's speech is listened to. */
  hears(userId: string): boolean;
  /** The listen policy changed: whether each member may be heard is asked again. */
  reconsiderSpeakers(): void;
  on<K extends keyof VoiceChannelEvents>(name: K, listener: VoiceChannelEvents[K]): Detach;
  /** Leaves the channel; idempotent. */
  leave(reason: string): void;
}

/** The session events the bridge acts on. */
export type RealtimeEvents = Pick<
  VoiceLiveSessionEvents,
  | "input_audio_buffer.speech_started"
  | "input_audio_buffer.speech_stopped"
  | "input_audio_buffer.committed"
  | "response.output_item.added"
  | "response.audio.delta"
  | "response.audio.done"
  | "response.audio_transcript.delta"
  | "response.audio_transcript.done"
  | "response.audio_timestamp.delta"
  | "response.function_call_arguments.done"
  | "conversation.item.input_audio_transcription.completed"
  | "conversation.item.input_audio_transcription.failed"
  | "response.done"
  | "conversation.item.truncated"
  | "error"
  | "reconnecting"
  | "reconnected"
  | "failed"
>;

export interface RealtimePort {
  /** The session's state, for /status. */
  readonly state: string;
  readonly responseActive: boolean;
  readonly activeResponseId: string | undefined;
  /** Input audio the service never got (send buffer overflow, or offered while disconnected). */
  readonly droppedAudioMs: number;
  /** Sends PCM16 mono at the session's input rate (a reused buffer: it is consumed at once). */
  appendAudio(pcm: Int16Array): void;
  /** Returns whether a cancel was sent. */
  cancelResponse(): boolean;
  truncateItem(itemId: string, audioEndMs: number, contentIndex?: number): boolean;
  /** Adds an item to the conversation (a speaker note, a tool's output). */
  createItem(item: ConversationItem): boolean;
  /** Asks for a response now (after tool outputs). */
  createResponse(): boolean;
  updateSession(config: SessionConfig): Promise<SessionUpdateOutcome>;
  on<K extends keyof RealtimeEvents>(name: K, listener: RealtimeEvents[K]): Detach;
  close(): Promise<void>;
}

/** A function the model asked the bot to run, with who spoke in the turn that led to it. */
export interface ToolCall {
  readonly callId: string;
  readonly name: string;
  /** A JSON string, as the model wrote it. */
  readonly arguments: string;
  readonly speakerIds: readonly string[];
}

export interface ToolResult {
  /** What goes back to the model: the result, or a refusal or apology it can say out loud. */
  readonly output: string;
  /** False when the call was refused (a permission, a disabled tool). */
  readonly allowed: boolean;
}

/** Runs the bot's tools for a guild; never rejects (a failure is an output the model can explain). */
export interface ToolRunner {
  /** The definitions of the enabled tools, for `session.update`. */
  definitions(enabled: readonly string[]): readonly FunctionTool[];
  run(call: ToolCall): Promise<ToolResult>;
}
