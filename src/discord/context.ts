import type { DiscordGatewayAdapterCreator } from "@discordjs/voice";
import type {
  APIEmbed,
  APIModalInteractionResponseCallbackData,
  RESTPostAPIChatInputApplicationCommandsJSONBody,
} from "discord.js";
import type { ConversationControl } from "../conversation/types.ts";
import type { Logger } from "../log.ts";
import type { SettingsStore } from "../store/guild-store.ts";

/**
 * What a command handler sees of an interaction: plain data and a few actions. The adapter in
 * adapter.ts builds these from discord.js objects; tests build them directly.
 */

export type ChannelKind = "voice" | "stage" | "text" | "other";

export interface ChannelInfo {
  readonly id: string;
  readonly name: string;
  readonly kind: ChannelKind;
}

export interface RoleInfo {
  readonly id: string;
  readonly name: string;
}

export interface MemberInfo {
  readonly bot: boolean;
  readonly roleIds: readonly string[];
  /** Guild-wide permissions (roles, owner and Administrator included). */
  readonly permissions: bigint;
}

/** The guild an interaction came from, as far as the commands need it. */
export interface GuildAccess {
  readonly id: string;
  readonly adapterCreator: DiscordGatewayAdapterCreator;
  channel(channelId: string): ChannelInfo | undefined;
  /** The voice channel the user is in, from the voice state cache. */
  voiceChannelOf(userId: string): string | null;
  /** The bot's effective permissions in a channel; 0n when the channel or the bot is unknown. */
  botPermissionsIn(channelId: string): bigint;
  member(userId: string): Promise<MemberInfo | undefined>;
  /** The member's name as the guild shows it, from the cache; undefined when not cached. */
  displayName(userId: string): string | undefined;
  /** Display names of the people (not bots) in a voice channel, from the voice state cache. */
  humansIn(voiceChannelId: string): readonly string[];
  /** The bot's own name in this guild (its nickname, else its user name). */
  readonly botName: string;
  /** Posts a message (mentions never ping) and returns its id. */
  send(channelId: string, text: string): Promise<string>;
  edit(channelId: string, messageId: string, text: string): Promise<void>;
}

export interface ReplyMessage {
  readonly content?: string;
  readonly embeds?: readonly APIEmbed[];
  readonly ephemeral?: boolean;
}

export type ResponseState = "none" | "deferred" | "replied";

/**
 * Discord no longer takes answers to this interaction (10062): the first one came more than 3 s
 * after it was created, typically because the gateway delivered it late. Nothing can reach the
 * member any more, so nobody should try.
 */
export class InteractionExpiredError extends Error {
  override readonly name = "InteractionExpiredError";
}

/**
 * Answers an interaction whatever state it is in: the first answer replies, an answer after a
 * deferral edits the deferred reply, later answers follow up.
 */
export interface Responder {
  readonly state: ResponseState;
  reply(message: ReplyMessage): Promise<void>;
  /** Acknowledges now and answers later (up to 15 minutes); a no-op once answered. */
  defer(options: { readonly ephemeral: boolean }): Promise<void>;
}

interface InteractionBase extends Responder {
  readonly guildId: string | null;
  readonly userId: string;
  /** The member's permissions in the channel, as Discord computed them for this interaction. */
  readonly memberPermissions: bigint | null;
  /** Null outside a guild, or when the guild is not cached. */
  readonly guild: GuildAccess | null;
}

export interface CommandOptions {
  readonly subcommand: string | null;
  string(name: string): string | null;
  number(name: string): number | null;
  integer(name: string): number | null;
  boolean(name: string): boolean | null;
  channel(name: string): ChannelInfo | null;
  role(name: string): RoleInfo | null;
}

export interface CommandContext extends InteractionBase {
  readonly commandName: string;
  readonly options: CommandOptions;
  /** Must be the first answer: a modal cannot follow a reply or a deferral. */
  showModal(modal: APIModalInteractionResponseCallbackData): Promise<void>;
}

export interface ModalContext extends InteractionBase {
  readonly customId: string;
  field(customId: string): string | null;
}

export interface AutocompleteContext {
  readonly guildId: string | null;
  readonly userId: string;
  readonly commandName: string;
  readonly subcommand: string | null;
  readonly focused: { readonly name: string; readonly value: string };
}

export interface Choice {
  readonly name: string;
  readonly value: string;
}

export interface CommandServices {
  readonly store: SettingsStore;
  readonly conversations: ConversationControl;
  readonly logger: Logger;
  /** Called after /join succeeds, so an empty channel is noticed without waiting for a voice event. */
  readonly conversationStarted: (guildId: string) => void;
  /** The gateway shard serving the guild, when the bot is sharded. */
  readonly shardOf?: (guildId: string) => ShardPosition | undefined;
}

export interface ShardPosition {
  readonly id: number;
  readonly count: number;
}

export interface Command {
  /** A SlashCommandBuilder: its name and the JSON deployed to Discord. */
  readonly data: { readonly name: string; toJSON(): RESTPostAPIChatInputApplicationCommandsJSONBody };
  execute(ctx: CommandContext, services: CommandServices): Promise<void>;
  autocomplete?(ctx: AutocompleteContext, services: CommandServices): readonly Choice[];
  /** Receives the modals whose custom id starts with `<command name>:`. */
  submitModal?(ctx: ModalContext, services: CommandServices): Promise<void>;
}
