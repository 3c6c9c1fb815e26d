import {
  type APIModalInteractionResponseCallbackData,
  type AutocompleteInteraction,
  ChannelType,
  type ChatInputCommandInteraction,
  DiscordAPIError,
  type Guild,
  type Interaction,
  type MessageCreateOptions,
  MessageFlags,
  type ModalSubmitInteraction,
} from "discord.js";
import type { Logger } from "../log.ts";
import {
  type AutocompleteContext,
  type ChannelKind,
  type CommandContext,
  type GuildAccess,
  InteractionExpiredError,
  type ModalContext,
  type ReplyMessage,
  type ResponseState,
} from "./context.ts";
import { InteractionResponder, type InteractionTransport } from "./responder.ts";
import type { Router } from "./router.ts";

/** The only place that reads discord.js interactions: it turns them into the contexts handlers use. */

const NO_PINGS = { parse: [] } satisfies MessageCreateOptions["allowedMentions"];

function channelKind(type: ChannelType): ChannelKind {
  switch (type) {
    case ChannelType.GuildVoice:
      return "voice";
    case ChannelType.GuildStageVoice:
      return "stage";
    case ChannelType.GuildText:
    case ChannelType.GuildAnnouncement:
      return "text";
    default:
      return "other";
  }
}

function payload(message: ReplyMessage) {
  return {
    content: message.content,
    embeds: message.embeds === undefined ? undefined : [...message.embeds],
    allowedMentions: NO_PINGS,
  };
}

function withFlags(message: ReplyMessage) {
  return message.ephemeral === true
    ? { ...payload(message), flags: MessageFlags.Ephemeral as const }
    : payload(message);
}

const UNKNOWN_INTERACTION = 10062;

/** Runs an interaction call, turning Discord's "Unknown interaction" into InteractionExpiredError. */
async function answering(call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch (error) {
    if (error instanceof DiscordAPIError && error.code === UNKNOWN_INTERACTION)
      throw new InteractionExpiredError("the interaction expired before it was answered", { cause: error });
    throw error;
  }
}

function transportOf(
  interaction: ChatInputCommandInteraction | ModalSubmitInteraction,
): InteractionTransport {
  return {
    reply: (message) => answering(() => interaction.reply(withFlags(message))),
    deferReply: (ephemeral) =>
      answering(() => interaction.deferReply(ephemeral ? { flags: MessageFlags.Ephemeral } : {})),
    editReply: (message) => answering(() => interaction.editReply(payload(message))),
    followUp: (message) => answering(() => interaction.followUp(withFlags(message))),
    showModal: (modal) =>
      answering(async () => {
        if (interaction.isModalSubmit()) throw new Error("a form cannot answer a form");
        await interaction.showModal(modal);
      }),
  };
}

export function guildAccess(guild: Guild): GuildAccess {
  const textChannel = (channelId: string) => {
    const channel = guild.channels.cache.get(channelId);
    if (channel === undefined || !channel.isTextBased())
      throw new Error(`channel ${channelId} cannot hold messages`);
    return channel;
  };
  return {
    id: guild.id,
    adapterCreator: guild.voiceAdapterCreator,
    channel(channelId) {
      const channel = guild.channels.cache.get(channelId);
      return channel === undefined
        ? undefined
        : { id: channel.id, name: channel.name, kind: channelKind(channel.type) };
    },
    voiceChannelOf: (userId) => guild.voiceStates.cache.get(userId)?.channelId ?? null,
    botPermissionsIn(channelId) {
      const me = guild.members.me;
      const channel = guild.channels.cache.get(channelId);
      return me === null || channel === undefined ? 0n : (channel.permissionsFor(me)?.bitfield ?? 0n);
    },
    async member(userId) {
      const member = guild.members.cache.get(userId) ?? (await guild.members.fetch(userId));
      return {
        bot: member.user.bot,
        roleIds: [...member.roles.cache.keys()],
        permissions: member.permissions.bitfield,
      };
    },
    displayName: (userId) => guild.members.cache.get(userId)?.displayName,
    get botName() {
      return guild.members.me?.displayName ?? guild.client.user.username;
    },
    humansIn(voiceChannelId) {
      const names: string[] = [];
      for (const state of guild.voiceStates.cache.values()) {
        const member = state.member;
        if (state.channelId === voiceChannelId && member !== null && !member.user.bot)
          names.push(member.displayName);
      }
      return names;
    },
    async send(channelId, text) {
      const message = await textChannel(channelId).send({ content: text, allowedMentions: NO_PINGS });
      return message.id;
    },
    async edit(channelId, messageId, text) {
      await textChannel(channelId).messages.edit(messageId, { content: text, allowedMentions: NO_PINGS });
    },
  };
}

/**
 * What command and modal contexts share. A class, not an object literal, so `state` stays a live
 * getter on the prototype: spreading a literal would copy the getter's first value ("none") and the
 * router would think every answered command went unanswered.
 */
class AdaptedInteraction {
  readonly guildId: string | null;
  readonly userId: string;
  readonly memberPermissions: bigint | null;
  readonly guild: GuildAccess | null;
  readonly #responder: InteractionResponder;

  constructor(interaction: ChatInputCommandInteraction | ModalSubmitInteraction) {
    this.#responder = new InteractionResponder(transportOf(interaction));
    this.guildId = interaction.guildId;
    this.userId = interaction.user.id;
    this.memberPermissions = interaction.memberPermissions?.bitfield ?? null;
    this.guild = interaction.guild === null ? null : guildAccess(interaction.guild);
  }

  get state(): ResponseState {
    return this.#responder.state;
  }

  reply(message: ReplyMessage): Promise<void> {
    return this.#responder.reply(message);
  }

  defer(options: { readonly ephemeral: boolean }): Promise<void> {
    return this.#responder.defer(options);
  }

  showModal(modal: APIModalInteractionResponseCallbackData): Promise<void> {
    return this.#responder.showModal(modal);
  }
}

export function commandContext(interaction: ChatInputCommandInteraction): CommandContext {
  const { options } = interaction;
  return Object.assign(new AdaptedInteraction(interaction), {
    commandName: interaction.commandName,
    options: {
      subcommand: options.getSubcommand(false),
      string: (name: string) => options.getString(name),
      number: (name: string) => options.getNumber(name),
      integer: (name: string) => options.getInteger(name),
      boolean: (name: string) => options.getBoolean(name),
      channel(name: string) {
        const channel = options.getChannel(name);
        return channel === null
          ? null
          : { id: channel.id, name: channel.name ?? channel.id, kind: channelKind(channel.type) };
      },
      role(name: string) {
        const role = options.getRole(name);
        return role === null ? null : { id: role.id, name: role.name };
      },
    },
  });
}

export function modalContext(interaction: ModalSubmitInteraction): ModalContext {
  return Object.assign(new AdaptedInteraction(interaction), {
    customId: interaction.customId,
    field(customId: string) {
      const field = interaction.fields.fields.get(customId);
      return field !== undefined && "value" in field && typeof field.value === "string" ? field.value : null;
    },
  });
}

export function autocompleteContext(interaction: AutocompleteInteraction): AutocompleteContext {
  const focused = interaction.options.getFocused(true);
  return {
    guildId: interaction.guildId,
    userId: interaction.user.id,
    commandName: interaction.commandName,
    subcommand: interaction.options.getSubcommand(false),
    focused: { name: focused.name, value: String(focused.value) },
  };
}

/** The client's interactionCreate listener: never throws, whatever the interaction. */
export async function dispatchInteraction(
  router: Router,
  interaction: Interaction,
  logger: Logger,
): Promise<void> {
  try {
    if (interaction.isChatInputCommand()) {
      await router.command(commandContext(interaction));
    } else if (interaction.isAutocomplete()) {
      const choices = await router.autocomplete(autocompleteContext(interaction));
      await interaction.respond([...choices]);
    } else if (interaction.isModalSubmit()) {
      await router.modal(modalContext(interaction));
    }
  } catch (error) {
    // Only the adapter itself or an expired interaction (autocomplete answered too late) lands here.
    logger.warn(
      { err: error, guildId: interaction.guildId, userId: interaction.user.id },
      "interaction could not be handled",
    );
  }
}
