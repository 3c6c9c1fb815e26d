import type { CommandContext, GuildAccess, ModalContext } from "./context.ts";
import { hasPermission } from "./permissions.ts";

/** Guards shared by the handlers; each answers the user itself when the check fails. */

export async function requireGuild(ctx: CommandContext | ModalContext): Promise<GuildAccess | undefined> {
  if (ctx.guild !== null) return ctx.guild;
  await ctx.reply({ content: "This command works only in a server where I am a member.", ephemeral: true });
  return undefined;
}

/**
 * Discord hides settings commands from members without Manage Server (default member permission),
 * but that is a client-side default an admin may change and a forged request ignores; the handler
 * checks the permission Discord computed for this very interaction.
 */
export async function requireManageGuild(ctx: CommandContext | ModalContext): Promise<boolean> {
  if (hasPermission(ctx.memberPermissions, "ManageGuild")) return true;
  await ctx.reply({
    content: "You need the Manage Server permission to change my settings here.",
    ephemeral: true,
  });
  return false;
}
