import { GatewayIntentBits, IntentsBitField, PermissionFlagsBits, PermissionsBitField } from "discord.js";
import { describe, expect, it } from "vitest";
import { createDiscordClient } from "../../src/discord/client.ts";
import { INVITE_PERMISSIONS, inviteUrl } from "../../src/discord/permissions.ts";

/** The bot asks Discord for no more than it uses. */

describe("what the bot asks Discord for", () => {
  it("connects with exactly the Guilds and GuildVoiceStates intents, no privileged one, and mentions off", async () => {
    const client = createDiscordClient({ apiUrl: "https://discord.com/api" });
    try {
      const intents = new IntentsBitField(client.options.intents);
      expect(intents.toArray().sort()).toEqual(["GuildVoiceStates", "Guilds"]);
      expect(intents.bitfield).toBe(GatewayIntentBits.Guilds | GatewayIntentBits.GuildVoiceStates);
      expect(client.options.allowedMentions).toEqual({ parse: [] });
    } finally {
      await client.destroy();
    }
  });

  it("is invited with permissions 3165184: view, send, embed, connect, speak and nothing else", () => {
    expect(INVITE_PERMISSIONS).toBe(3165184n);
    expect(new PermissionsBitField(INVITE_PERMISSIONS).toArray().sort()).toEqual(
      ["Connect", "EmbedLinks", "SendMessages", "Speak", "ViewChannel"].sort(),
    );
    expect(INVITE_PERMISSIONS & PermissionFlagsBits.Administrator).toBe(0n);
    const url = new URL(inviteUrl("123456789012345678"));
    expect(url.searchParams.get("permissions")).toBe("3165184");
    expect(url.searchParams.get("scope")).toBe("bot applications.commands");
  });
});
