import { NO_ARGUMENTS, type Tool } from "./tool.ts";

export const currentTime: Tool = {
  name: "current_time",
  description: "The current date and time in this server's time zone.",
  parameters: NO_ARGUMENTS,
  permission: undefined,
  async run(_args, env) {
    const timeZone = await env.timeZone();
    const text = new Intl.DateTimeFormat("en-GB", {
      timeZone,
      dateStyle: "full",
      timeStyle: "short",
    }).format(env.now());
    return `${text} (${timeZone}).`;
  },
};
