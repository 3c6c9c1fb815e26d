import { InteractionContextType, SlashCommandBuilder } from "discord.js";
import { requireGuild } from "../src/discord/checks.ts";
import type { Command } from "../src/discord/context.ts";
import { statusEmbed } from "../src/discord/format.ts";

const data = new SlashCommandBuilder()
  .setName("status")
  .setDescription("Show the connection, latency figures, persona and today's usage")
  .setContexts(InteractionContextType.Guild);

export const command: Command = {
  data,
  async execute(ctx, services) {
    const guild = await requireGuild(ctx);
    if (guild === undefined) return;
    const { conversations, store } = services;
    const [settings, usage] = await Promise.all([store.settings(guild.id), store.usageToday(guild.id)]);
    await ctx.reply({
      embeds: [
        statusEmbed(
          conversations.backend,
          conversations.status(guild.id),
          settings,
          usage,
          Date.now(),
          services.shardOf?.(guild.id),
        ),
      ],
      ephemeral: true,
    });
  },
};
