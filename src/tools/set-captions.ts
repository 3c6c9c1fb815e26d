import { MANAGE_SERVER, type Tool } from "./tool.ts";

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
  permission: MANAGE_SERVER,
  async run(args, env) {
    if (typeof args.enabled !== "boolean") throw new Error("enabled must be true or false");
    return env.setCaptions(args.enabled);
  },
};
