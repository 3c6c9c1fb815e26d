import type { RESTPostAPIChatInputApplicationCommandsJSONBody } from "discord.js";
import { command as captions } from "../../commands/captions.ts";
import { command as join } from "../../commands/join.ts";
import { command as leave } from "../../commands/leave.ts";
import { command as persona } from "../../commands/persona.ts";
import { command as status } from "../../commands/status.ts";
import type { Command } from "./context.ts";

/** Every slash command of the bot; a new command is one module in commands/ and one line here. */
export const COMMANDS: readonly Command[] = [join, leave, persona, status, captions];

/** The body Discord's bulk overwrite endpoint takes. */
export function commandPayload(
  commands: readonly Command[] = COMMANDS,
): RESTPostAPIChatInputApplicationCommandsJSONBody[] {
  return commands.map((command) => command.data.toJSON());
}
