import type { RESTPostAPIChatInputApplicationCommandsJSONBody } from "discord.js";
import type { Command } from "./context.ts";

/** The body Discord's bulk overwrite endpoint takes. */
export function commandPayload(
  commands: readonly Command[],
): RESTPostAPIChatInputApplicationCommandsJSONBody[] {
  return commands.map((command) => command.data.toJSON());
}
