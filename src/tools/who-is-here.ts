import { NO_ARGUMENTS, type Tool } from "./tool.ts";

export const whoIsHere: Tool = {
  name: "who_is_here",
  description: "List the people in the voice channel right now, by their display names.",
  parameters: NO_ARGUMENTS,
  permission: undefined,
  async run(_args, env) {
    const roster = env.roster();
    return roster.length === 0 ? "Nobody else is in the channel." : `In the channel: ${roster.join(", ")}.`;
  },
};
