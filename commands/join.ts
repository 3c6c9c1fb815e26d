import { ChannelType, InteractionContextType, SlashCommandBuilder } from "discord.js";
import { requireGuild } from "../src/discord/checks.ts";
import type { ChannelInfo, Command, CommandContext, GuildAccess } from "../src/discord/context.ts";
import { joinedEmbed, MESSAGE_LIMIT, truncate } from "../src/discord/format.ts";
import { buildJoinRequest } from "../src/discord/join-request.ts";
import { missingPermissions, permissionLabel, VOICE_PERMISSIONS } from "../src/discord/permissions.ts";
import { scrubSecrets } from "../src/log.ts";

const data = new SlashCommandBuilder()
  .setName("join")
  .setDescription("Join your voice channel (or the one given) and start a conversation")
  .setContexts(InteractionContextType.Guild)
  .addChannelOption((option) =>
    option
      .setName("channel")
      .setDescription("Voice or stage channel to join instead of yours")
      .addChannelTypes(ChannelType.GuildVoice, ChannelType.GuildStageVoice),
  );

/** A wait for the connection budget shorter than this passes unremarked. */
const BUDGET_NOTICE_AFTER_MS = 1_000;

async function ephemeral(ctx: CommandContext, content: string): Promise<void> {
  await ctx.reply({ content, ephemeral: true });
}

/** The channel to join, or undefined after telling the user why there is none. */
async function targetChannel(ctx: CommandContext, guild: GuildAccess): Promise<ChannelInfo | undefined> {
  const chosen = ctx.options.channel("channel");
  if (chosen !== null) {
    if (chosen.kind === "voice" || chosen.kind === "stage") return chosen;
    await ephemeral(ctx, `channel: <#${chosen.id}> is not a voice or stage channel.`);
    return undefined;
  }
  const current = guild.voiceChannelOf(ctx.userId);
  const channel = current === null ? undefined : guild.channel(current);
  if (channel === undefined) {
    await ephemeral(ctx, "Join a voice channel first, or name one: `/join channel:`.");
  }
  return channel;
}

export const command: Command = {
  data,
  async execute(ctx, services) {
    const guild = await requireGuild(ctx);
    if (guild === undefined) return;
    const channel = await targetChannel(ctx, guild);
    if (channel === undefined) return;

    const missing = missingPermissions(guild.botPermissionsIn(channel.id), VOICE_PERMISSIONS);
    if (missing.length > 0) {
      await ephemeral(
        ctx,
        `I can't join <#${channel.id}>: I lack ${missing.map(permissionLabel).join(", ")} there. Grant it to my role or in the channel's permissions.`,
      );
      return;
    }
    // One conversation per guild: moving it would cut off the people using it, so say where it is.
    if (services.conversations.isActive(guild.id)) {
      const current = services.conversations.status(guild.id)?.channelId;
      await ephemeral(
        ctx,
        current === channel.id
          ? `I'm already in <#${channel.id}>.`
          : `I'm already talking in ${current === undefined ? "another channel" : `<#${current}>`}; use /leave there first.`,
      );
      return;
    }

    // Joining waits for Discord's voice handshake and the Voice Live session: well past 3 s at times.
    await ctx.defer({ ephemeral: false });
    const settings = await services.store.settings(guild.id);
    let joining = true;
    // A join held back by the Voice Live connection budget says so, rather than "thinking…" for a minute.
    const onConnectionWait = (waitMs: number): void => {
      if (!joining || waitMs < BUDGET_NOTICE_AFTER_MS) return;
      ctx
        .reply({
          content: `Voice Live is busy: joining <#${channel.id}> in about ${Math.ceil(waitMs / 1000)} s…`,
        })
        .catch((error: unknown) =>
          services.logger.warn({ err: error, guildId: guild.id }, "could not say the join is waiting"),
        );
    };
    try {
      await services.conversations.join({
        ...buildJoinRequest({
          guild,
          channel,
          initiatorId: ctx.userId,
          settings,
          store: services.store,
          conversations: services.conversations,
          logger: services.logger,
        }),
        onConnectionWait,
      });
    } catch (error) {
      services.logger.warn(
        { err: error, guildId: guild.id, channelId: channel.id, userId: ctx.userId },
        "join failed",
      );
      const reason = error instanceof Error ? error.message : String(error);
      await ctx.reply({
        content: truncate(
          `Could not start the conversation in <#${channel.id}>: ${scrubSecrets(reason)}`,
          MESSAGE_LIMIT,
        ),
      });
      return;
    } finally {
      joining = false;
    }
    services.conversationStarted(guild.id);
    await ctx.reply({ embeds: [joinedEmbed(channel.id, settings, services.conversations.backend)] });
  },
};
