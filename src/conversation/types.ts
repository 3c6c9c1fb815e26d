import type { DiscordGatewayAdapterCreator } from "@discordjs/voice";
import type { GuildSettings } from "../persona.ts";

/**
 * What the Discord face (commands, main) needs from the conversation layer. The commands depend on
 * this interface only, so they can be tested with a double and the layer can grow behind it.
 */

export type Backend = "azure" | "local";

export interface JoinRequest {
  readonly guildId: string;
  readonly channelId: string;
  readonly channelName: string;
  /** The member who ran /join: the "initiator" listen policy hears only them. */
  readonly initiatorId: string;
  readonly adapterCreator: DiscordGatewayAdapterCreator;
  readonly settings: GuildSettings;
  /** Whether a member may be heard (role policy, bots). Called once per new speaker. */
  readonly isAllowedSpeaker: (userId: string) => Promise<boolean> | boolean;
  /** Posts a line in the chat of the voice channel the bot is in now. */
  readonly notify: (text: string, voiceChannelId: string) => Promise<void>;
  /** Sends or edits caption messages; absent when captions are off. */
  readonly captions?: CaptionSink;
  /** Told how long the Voice Live connection must wait for the connection budget, when it must. */
  readonly onConnectionWait?: (waitMs: number) => void;
}

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

export interface ConversationControl {
  readonly backend: Backend;
  join(request: JoinRequest): Promise<void>;
  leave(guildId: string, reason: string): Promise<boolean>;
  isActive(guildId: string): boolean;
  status(guildId: string): ConversationStatus | undefined;
  applySettings(guildId: string, settings: GuildSettings): Promise<PersonaApplyResult>;
  /** Ends every conversation (shutdown). */
  closeAll(reason: string): Promise<void>;
}
