import { changeVoice } from "./change-voice.ts";
import { currentTime } from "./current-time.ts";
import { leaveChannel } from "./leave-channel.ts";
import { setCaptions } from "./set-captions.ts";
import type { Tool } from "./tool.ts";
import { whoIsHere } from "./who-is-here.ts";

/** Every tool the bot has, in the order persona.ts lists their names. */
export const BUILTIN_TOOLS: readonly Tool[] = [
  leaveChannel,
  whoIsHere,
  currentTime,
  setCaptions,
  changeVoice,
];
