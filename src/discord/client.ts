import { Client, Events, GatewayIntentBits } from "discord.js";
import type { ConversationControl } from "../conversation/types.ts";
import type { Logger } from "../log.ts";
import { dispatchInteraction } from "./adapter.ts";
import type { AutoLeave } from "./auto-leave.ts";
import type { Router } from "./router.ts";

/**
 * Guilds (channels, roles, the bot's own member) and GuildVoiceStates (who is in which voice
 * channel) are all the bot needs; no privileged intent. Mentions are off by default so a caption of
 * someone saying "@everyone" pings nobody. `apiUrl` is DISCORD_API_URL.
 */
export function createDiscordClient(options: { readonly apiUrl: string }): Client {
  return new Client({
    intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildVoiceStates],
    allowedMentions: { parse: [] },
    // The gateway URL comes from GET /gateway/bot on this base, as with Discord itself.
    rest: { api: options.apiUrl },
  });
}

/** People (not bots) in the channel of the guild's conversation, from the voice state cache. */
export function humansInConversation(client: Client, conversations: ConversationControl) {
  return (guildId: string): number | null => {
    const channelId = conversations.status(guildId)?.channelId;
    const guild = client.guilds.cache.get(guildId);
    if (channelId === undefined || guild === undefined) return null;
    let humans = 0;
    for (const state of guild.voiceStates.cache.values()) {
      // An uncached member counts as a person: better to stay than to leave someone mid-sentence.
      if (state.channelId === channelId && state.member?.user.bot !== true) humans++;
    }
    return humans;
  };
}

export interface ClientWiring {
  readonly router: Router;
  readonly conversations: ConversationControl;
  readonly autoLeave: AutoLeave;
  readonly logger: Logger;
}

export function wireClient(client: Client, wiring: ClientWiring): void {
  const { router, conversations, autoLeave, logger } = wiring;
  client.on(Events.InteractionCreate, (interaction) => void dispatchInteraction(router, interaction, logger));
  client.on(Events.VoiceStateUpdate, (_before, after) => {
    autoLeave.check(after.guild.id);
    conversations.rosterChanged(after.guild.id);
  });
  client.on(Events.GuildDelete, (guild) => {
    conversations
      .leave(guild.id, "the bot was removed from the server")
      .catch((error: unknown) =>
        logger.warn({ err: error, guildId: guild.id }, "could not end the conversation"),
      );
  });
  client.on(Events.Error, (error) => logger.error({ err: error }, "Discord client error"));
  client.on(Events.Warn, (message) => logger.warn({ message }, "Discord client warning"));
  client.on(Events.ShardDisconnect, (event, shardId) =>
    logger.warn({ code: event.code, shardId }, "disconnected from the Discord gateway"),
  );
  client.on(Events.ShardResume, (shardId) => logger.info({ shardId }, "gateway session resumed"));
}
