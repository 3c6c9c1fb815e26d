import type { ConversationControl } from "../conversation/types.ts";
import type { SettingsStore } from "../store/guild-store.ts";
import type { ToolEnvironment } from "../tools/tool.ts";
import type { GuildAccess } from "./context.ts";
import { MESSAGE_LIMIT, truncate } from "./format.ts";

/**
 * What the bot's tools act on in one guild: the same store and conversation the slash commands
 * use, so a change made by voice is saved, applied live and shown by /persona show alike.
 */
export interface ToolEnvironmentInput {
  readonly guild: GuildAccess;
  /** The voice channel of the conversation now (a moderator may have moved the bot). */
  readonly voiceChannelId: () => string;
  readonly store: Pick<SettingsStore, "settings" | "changePersona" | "setCaptions">;
  readonly conversations: Pick<ConversationControl, "leave" | "applySettings">;
}

export function discordToolEnvironment(input: ToolEnvironmentInput): ToolEnvironment {
  const { guild, store, conversations } = input;
  const names = (userIds: readonly string[]): string =>
    userIds.map((userId) => guild.displayName(userId) ?? "someone").join(", ") || "someone";
  return {
    roster: () => guild.humansIn(input.voiceChannelId()),
    async leave(askedBy) {
      const channelId = input.voiceChannelId();
      await guild
        .send(channelId, truncate(`Leaving the voice channel: ${names(askedBy)} asked me to.`, MESSAGE_LIMIT))
        .catch(() => undefined);
      await conversations.leave(guild.id, "asked to leave by voice");
    },
    async setCaptions(enabled) {
      const current = (await store.settings(guild.id)).captions;
      const settings = await store.setCaptions(guild.id, { enabled, channelId: current.channelId });
      await conversations.applySettings(guild.id, settings);
      return enabled ? "Captions are on." : "Captions are off.";
    },
    async changeVoice(voice) {
      const result = await store.changePersona(guild.id, { voice });
      if (!result.ok) return `Not changed: ${result.problems.join("; ")}`;
      await conversations.applySettings(guild.id, result.settings);
      return `The voice is now ${result.settings.persona.voice}.`;
    },
    timeZone: async () => (await store.settings(guild.id)).persona.timeZone,
    now: () => new Date(),
  };
}
