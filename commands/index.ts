import type { Command } from "../src/discord/context.ts";
import { command as captions } from "./captions.ts";
import { command as join } from "./join.ts";
import { command as leave } from "./leave.ts";
import { command as persona } from "./persona.ts";
import { command as status } from "./status.ts";

/** Every slash command of the bot; a new command is one module here and one line in this list. */
export const COMMANDS: readonly Command[] = [join, leave, persona, status, captions];
