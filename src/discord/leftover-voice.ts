import { type Client, Events, GatewayOpcodes, type Guild } from "discord.js";
import type { ConversationControl } from "../conversation/types.ts";
import type { Logger } from "../log.ts";
import { guildAccess } from "./adapter.ts";

export const RESTART_NOTICE =
  "I restarted unexpectedly, so the conversation here ended. Run /join to start again; the persona is kept.";

/**
 * A process killed mid-conversation (a crash, kill -9, an OOM) comes back with Discord still
 * showing the bot in the voice channel, where nothing listens any more. When the client is ready,
 * each such channel is told in its chat what happened, and the bot leaves it.
 */
export function noticeLeftoverVoice(
  client: Client,
  conversations: ConversationControl,
  logger: Logger,
): void {
  client.once(Events.ClientReady, (ready) => {
    for (const guild of ready.guilds.cache.values()) {
      const channelId = guild.voiceStates.cache.get(ready.user.id)?.channelId;
      if (channelId === null || channelId === undefined || conversations.isActive(guild.id)) continue;
      void leaveLeftover(guild, channelId, logger.child({ guildId: guild.id, channelId }));
    }
  });
}

async function leaveLeftover(guild: Guild, channelId: string, logger: Logger): Promise<void> {
  logger.warn("in a voice channel from before a restart; telling the channel and leaving");
  try {
    await guildAccess(guild).send(channelId, RESTART_NOTICE);
  } catch (error) {
    logger.warn({ err: error }, "could not post the restart notice");
  }
  guild.shard.send({
    op: GatewayOpcodes.VoiceStateUpdate,
    d: { guild_id: guild.id, channel_id: null, self_mute: false, self_deaf: false },
  });
}
