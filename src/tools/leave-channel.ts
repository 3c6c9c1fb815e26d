import { NO_ARGUMENTS, type Tool } from "./tool.ts";

export const leaveChannel: Tool = {
  name: "leave_channel",
  description:
    "Leave the voice channel and end the conversation, when someone says goodbye to you or asks you to go.",
  parameters: NO_ARGUMENTS,
  permission: undefined,
  async run(_args, env, askedBy) {
    await env.leave(askedBy);
    return "Left the voice channel.";
  },
};
