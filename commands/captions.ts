import { ChannelType, InteractionContextType, PermissionFlagsBits, SlashCommandBuilder } from "discord.js";
import { applyLive } from "../src/discord/apply-live.ts";
import { requireGuild, requireManageGuild } from "../src/discord/checks.ts";
import type { Command } from "../src/discord/context.ts";
import { captionsLabel } from "../src/discord/format.ts";
import { missingPermissions, permissionLabel, TEXT_PERMISSIONS } from "../src/discord/permissions.ts";

const data = new SlashCommandBuilder()
  .setName("captions")
  .setDescription("Post live captions of the conversation in a text channel")
  .setContexts(InteractionContextType.Guild)
  .setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild)
  .addSubcommand((sub) =>
    sub
      .setName("on")
      .setDescription("Turn captions on")
      .addChannelOption((option) =>
        option
          .setName("channel")
          .setDescription("Where to post them (default: the voice channel's own chat)")
          .addChannelTypes(ChannelType.GuildText, ChannelType.GuildVoice, ChannelType.GuildStageVoice),
      ),
  )
  .addSubcommand((sub) => sub.setName("off").setDescription("Turn captions off"));

export const command: Command = {
  data,
  async execute(ctx, services) {
    const guild = await requireGuild(ctx);
    if (guild === undefined || !(await requireManageGuild(ctx))) return;

    if (ctx.options.subcommand === "off") {
      const settings = await services.store.setCaptions(guild.id, { enabled: false, channelId: null });
      await applyLive(ctx, services, guild.id, settings, "Captions are off.");
      return;
    }
    if (ctx.options.subcommand !== "on") throw new Error(`unknown subcommand ${ctx.options.subcommand}`);
    const channel = ctx.options.channel("channel");
    if (channel?.kind === "other") {
      await ctx.reply({
        content: `channel: <#${channel.id}> cannot hold messages. Nothing was saved.`,
        ephemeral: true,
      });
      return;
    }
    // Without a channel, captions go to the voice channel's chat: checkable only while in one.
    const target = channel?.id ?? services.conversations.status(guild.id)?.channelId;
    const missing =
      target === undefined ? [] : missingPermissions(guild.botPermissionsIn(target), TEXT_PERMISSIONS);
    if (target !== undefined && missing.length > 0) {
      await ctx.reply({
        content: `channel: I lack ${missing.map(permissionLabel).join(", ")} in <#${target}>. Nothing was saved.`,
        ephemeral: true,
      });
      return;
    }
    const settings = await services.store.setCaptions(guild.id, {
      enabled: true,
      channelId: channel?.id ?? null,
    });
    await applyLive(ctx, services, guild.id, settings, `Captions are ${captionsLabel(settings.captions)}.`);
  },
};
