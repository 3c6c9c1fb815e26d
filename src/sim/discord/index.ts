export type { InteractionRecord, InteractionResponse, OptionValue } from "./interactions.ts";
export { InvocationError } from "./interactions.ts";
export {
  type ChannelMessage,
  type InvokeOptions,
  LoopbackDiscord,
  type LoopbackDiscordOptions,
  type SimGuildHandle,
} from "./loopback-discord.ts";
export type { RecordedRequest, ScriptedFailure } from "./rest.ts";
export { ChannelKind, Permission } from "./world.ts";
