import type { CaptionSink } from "../bridge/types.ts";
import type { ConversationControl, JoinRequest } from "../conversation/types.ts";
import type { Logger } from "../log.ts";
import type { GuildSettings } from "../persona.ts";
import type { SettingsStore } from "../store/guild-store.ts";
import { BUILTIN_TOOLS } from "../tools/builtin.ts";
import { ToolExecutor } from "../tools/executor.ts";
import type { ChannelInfo, GuildAccess } from "./context.ts";
import { MESSAGE_LIMIT, truncate } from "./format.ts";
import { mayBeHeard } from "./speaker-policy.ts";
import { discordToolEnvironment } from "./tool-environment.ts";

export interface JoinRequestInput {
  readonly guild: GuildAccess;
  readonly channel: ChannelInfo;
  readonly initiatorId: string;
  readonly settings: GuildSettings;
  readonly store: Pick<SettingsStore, "settings" | "changePersona" | "setCaptions">;
  readonly conversations: Pick<ConversationControl, "leave" | "applySettings" | "status">;
  readonly logger: Logger;
}

/**
 * Builds what the conversation layer needs to join. The speaker policy and the captions sink read
 * the stored settings each time they are used, so /persona listen and /captions apply to a running
 * conversation without it having to know. Discord failures (missing permission to post, a deleted
 * channel) are logged here and never reach the conversation.
 */
export function buildJoinRequest(input: JoinRequestInput): JoinRequest {
  const { guild, channel, initiatorId, store } = input;
  const logger = input.logger.child({ guildId: guild.id, channelId: channel.id });

  const captions: CaptionSink = {
    async post(text) {
      let target: string | undefined;
      try {
        const { enabled, channelId } = (await store.settings(guild.id)).captions;
        if (!enabled) return undefined;
        target = channelId ?? channel.id;
        return `${target}:${await guild.send(target, truncate(text, MESSAGE_LIMIT))}`;
      } catch (error) {
        logger.warn({ err: error, target }, "could not post a caption");
        return undefined;
      }
    },
    async edit(handle, text) {
      const [target, messageId] = handle.split(":");
      if (target === undefined || messageId === undefined) return;
      try {
        await guild.edit(target, messageId, truncate(text, MESSAGE_LIMIT));
      } catch (error) {
        logger.warn({ err: error, target }, "could not edit a caption");
      }
    },
  };

  const tools = new ToolExecutor({
    tools: BUILTIN_TOOLS,
    env: discordToolEnvironment({
      guild,
      voiceChannelId: () => input.conversations.status(guild.id)?.channelId ?? channel.id,
      store,
      conversations: input.conversations,
    }),
    enabled: async () => (await store.settings(guild.id)).persona.tools,
    async hasPermission(userId, flag) {
      const member = await guild.member(userId);
      return member !== undefined && (member.permissions & flag) === flag;
    },
    displayName: (userId) => guild.displayName(userId),
    logger,
  });

  return {
    guildId: guild.id,
    channelId: channel.id,
    channelName: channel.name,
    initiatorId,
    adapterCreator: guild.adapterCreator,
    settings: input.settings,
    async isAllowedSpeaker(userId) {
      try {
        const [settings, member] = await Promise.all([store.settings(guild.id), guild.member(userId)]);
        return mayBeHeard(settings.listen, initiatorId, userId, member);
      } catch (error) {
        logger.warn({ err: error, userId }, "could not look up a speaker; not listening to them");
        return false;
      }
    },
    async notify(text, voiceChannelId) {
      try {
        await guild.send(voiceChannelId, truncate(text, MESSAGE_LIMIT));
      } catch (error) {
        logger.warn({ err: error }, "could not post a notice in the voice channel's chat");
      }
    },
    captions,
    displayName: (userId) => guild.displayName(userId),
    roster: (voiceChannelId) => guild.humansIn(voiceChannelId),
    botName: guild.botName,
    tools,
  };
}
