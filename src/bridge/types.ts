/** What a conversation reports about itself, and where its captions go. */

export type Backend = "azure" | "local";

export interface CaptionSink {
  /** Returns a handle to edit the same message later. */
  post(text: string): Promise<string | undefined>;
  edit(handle: string, text: string): Promise<void>;
}

export interface LatencyFigures {
  readonly p50: number;
  readonly p99: number;
}

export interface ConversationStatus {
  readonly guildId: string;
  readonly channelId: string;
  readonly backend: Backend;
  readonly voiceConnection: string;
  readonly voiceLive: string;
  readonly startedAt: number;
  readonly speakers: number;
  readonly botSpeaking: boolean;
  readonly bridgeInputLatencyMs: LatencyFigures | undefined;
  readonly bridgeOutputLatencyMs: LatencyFigures | undefined;
  /** From the end of a user's speech to the bot's first audio packet, last few turns. */
  readonly recentResponseMs: readonly number[];
  /** DAVE decrypt failures per speaker (user id -> frames lost to DAVE). */
  readonly daveDecryptFailures?: Readonly<Record<string, number>>;
  /** Times the bot rejoined because a speaker stayed undecryptable. */
  readonly daveRecoveries?: number;
}

export type PersonaApplyResult = "applied" | "restarted" | "not-running";
