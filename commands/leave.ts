import { InteractionContextType, SlashCommandBuilder } from "discord.js";
import { requireGuild } from "../src/discord/checks.ts";
import type { Command } from "../src/discord/context.ts";

const data = new SlashCommandBuilder()
  .setName("leave")
  .setDescription("End the conversation and leave the voice channel")
  .setContexts(InteractionContextType.Guild);

export const command: Command = {
  data,
  async execute(ctx, services) {
    const guild = await requireGuild(ctx);
    if (guild === undefined) return;
    if (!services.conversations.isActive(guild.id)) {
      await ctx.reply({ content: "I'm not in a voice channel here.", ephemeral: true });
      return;
    }
    const channelId = services.conversations.status(guild.id)?.channelId;
    await ctx.defer({ ephemeral: false });
    const left = await services.conversations.leave(guild.id, `/leave by ${ctx.userId}`);
    await ctx.reply({
      content: left
        ? `Left ${channelId === undefined ? "the voice channel" : `<#${channelId}>`}.`
        : "I'm not in a voice channel here.",
    });
  },
};
