import { PermissionFlagsBits } from "discord.js";
import type { Tool } from "./tool.ts";

export const setCaptions: Tool = {
  name: "set_captions",
  description: "Turn the text captions of this conversation on or off.",
  parameters: {
    type: "object",
    properties: {
      enabled: { type: "boolean", description: "true to turn captions on, false to turn them off" },
    },
    required: ["enabled"],
    additionalProperties: false,
  },
  permission: { flag: PermissionFlagsBits.ManageGuild, label: "Manage Server" },
  async run(args, env) {
    if (typeof args.enabled !== "boolean") throw new Error("enabled must be true or false");
    return env.setCaptions(args.enabled);
  },
};
