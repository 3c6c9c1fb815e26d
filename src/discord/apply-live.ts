import type { GuildSettings } from "../persona.ts";
import type { CommandContext, CommandServices, ModalContext } from "./context.ts";

/**
 * After a saved change: pushes it to the running conversation, if any, and tells the user what
 * happened. Applying may need a new Voice Live session, so the answer is deferred first.
 */
export async function applyLive(
  ctx: CommandContext | ModalContext,
  services: CommandServices,
  guildId: string,
  settings: GuildSettings,
  saved: string,
): Promise<void> {
  if (!services.conversations.isActive(guildId)) {
    await ctx.reply({
      content: `${saved} It takes effect the next time I join a voice channel.`,
      ephemeral: true,
    });
    return;
  }
  await ctx.defer({ ephemeral: true });
  let outcome: string;
  try {
    const result = await services.conversations.applySettings(guildId, settings);
    outcome =
      result === "applied"
        ? "Applied to the running conversation."
        : result === "restarted"
          ? "The voice session restarted to apply it."
          : "It takes effect the next time I join a voice channel.";
  } catch (error) {
    services.logger.error(
      { err: error, guildId, userId: ctx.userId },
      "applying settings to the running conversation failed",
    );
    outcome =
      "Applying it to the running conversation failed (the error was logged); it takes effect the next time I join.";
  }
  await ctx.reply({ content: `${saved} ${outcome}`, ephemeral: true });
}
