import { MANAGE_SERVER, type Tool } from "./tool.ts";

export const changeVoice: Tool = {
  name: "change_voice",
  description: "Change the voice you speak with, for this server, when someone asks for another voice.",
  parameters: {
    type: "object",
    properties: {
      voice: { type: "string", description: "The voice name, such as alloy or en-US-AvaNeural" },
    },
    required: ["voice"],
    additionalProperties: false,
  },
  permission: MANAGE_SERVER,
  async run(args, env) {
    if (typeof args.voice !== "string" || args.voice.trim() === "") throw new Error("voice must be a name");
    return env.changeVoice(args.voice.slice(0, 100));
  },
};
