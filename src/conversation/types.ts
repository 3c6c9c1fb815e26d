import type { DiscordGatewayAdapterCreator } from "@discordjs/voice";
import type { ToolRunner } from "../bridge/ports.ts";
import type { Backend, CaptionSink, ConversationStatus, PersonaApplyResult } from "../bridge/types.ts";
import type { GuildSettings } from "../persona.ts";

/**
 * What the Discord face (commands, main) needs from the conversation layer. The commands depend on
 * this interface only, so they can be tested with a double and the layer can grow behind it.
 */

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
  /** A member's display name in the guild (never an id or mention); undefined when unknown. */
  readonly displayName: (userId: string) => string | undefined;
  /** Display names of the people (not bots) in a voice channel now. */
  readonly roster: (voiceChannelId: string) => readonly string[];
  /** The bot's name in the guild: the wake name when the persona sets none, and the captions' speaker. */
  readonly botName: string;
  /** The guild's tools: what the model may call, and who may make it. */
  readonly tools: ToolRunner;
  /** Told how long the Voice Live connection must wait for the connection budget, when it must. */
  readonly onConnectionWait?: (waitMs: number) => void;
}

export interface ConversationControl {
  readonly backend: Backend;
  join(request: JoinRequest): Promise<void>;
  leave(guildId: string, reason: string): Promise<boolean>;
  isActive(guildId: string): boolean;
  status(guildId: string): ConversationStatus | undefined;
  applySettings(guildId: string, settings: GuildSettings): Promise<PersonaApplyResult>;
  /** Someone joined or left a voice channel of the guild. */
  rosterChanged(guildId: string): void;
  /** Ends every conversation (shutdown). */
  closeAll(reason: string): Promise<void>;
}
