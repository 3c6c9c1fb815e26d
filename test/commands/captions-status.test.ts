import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { command as captions } from "../../commands/captions.ts";
import { command as status } from "../../commands/status.ts";
import { permissionBits } from "../../src/discord/permissions.ts";
import { commandContext, createHarness, GUILD_ID, type Harness, TEXT, VOICE } from "../discord/doubles.ts";

let h: Harness;
beforeEach(async () => {
  h = await createHarness();
});
afterEach(() => h.store.close());

describe("/captions", () => {
  it("turns captions on in a channel the bot can post in, and applies it live", async () => {
    h.conversations.active.set(GUILD_ID, VOICE.id);
    await captions.execute(
      commandContext(h, "captions", { subcommand: "on", options: { channel: TEXT } }),
      h.services,
    );
    expect((await h.store.settings(GUILD_ID)).captions).toEqual({ enabled: true, channelId: TEXT.id });
    expect(h.conversations.applied.at(-1)?.captions).toEqual({ enabled: true, channelId: TEXT.id });
    expect(h.transport.lastText).toContain(
      `Captions are on, in <#${TEXT.id}>. Applied to the running conversation.`,
    );
  });

  it("defaults to the voice channel's chat", async () => {
    await captions.execute(commandContext(h, "captions", { subcommand: "on" }), h.services);
    expect((await h.store.settings(GUILD_ID)).captions).toEqual({ enabled: true, channelId: null });
  });

  it("refuses a channel the bot cannot post in, naming the permission", async () => {
    h.guild.permissions.set(TEXT.id, permissionBits(["ViewChannel"]));
    await captions.execute(
      commandContext(h, "captions", { subcommand: "on", options: { channel: TEXT } }),
      h.services,
    );
    expect(h.transport.messages[0]).toMatchObject({
      ephemeral: true,
      content: expect.stringContaining("I lack Send Messages"),
    });
    expect((await h.store.settings(GUILD_ID)).captions.enabled).toBe(false);
  });

  it("checks the voice channel's chat when no channel is given during a conversation", async () => {
    h.conversations.active.set(GUILD_ID, VOICE.id);
    h.guild.permissions.set(VOICE.id, permissionBits(["ViewChannel", "Connect", "Speak"]));
    await captions.execute(commandContext(h, "captions", { subcommand: "on" }), h.services);
    expect(h.transport.lastText).toContain(`I lack Send Messages in <#${VOICE.id}>`);
    expect((await h.store.settings(GUILD_ID)).captions.enabled).toBe(false);
    expect(h.conversations.applied).toHaveLength(0);
  });

  it("turns captions off", async () => {
    await h.store.setCaptions(GUILD_ID, { enabled: true, channelId: TEXT.id });
    await captions.execute(commandContext(h, "captions", { subcommand: "off" }), h.services);
    expect((await h.store.settings(GUILD_ID)).captions.enabled).toBe(false);
  });

  it("refuses a member without Manage Server", async () => {
    await captions.execute(
      commandContext(h, "captions", { subcommand: "on", memberPermissions: 0n }),
      h.services,
    );
    expect((await h.store.settings(GUILD_ID)).captions.enabled).toBe(false);
    expect(h.transport.lastText).toContain("Manage Server");
  });
});

describe("/status", () => {
  it("shows backend, persona and today's usage when idle", async () => {
    await h.store.addUsage(GUILD_ID, {
      secondsAppended: 125,
      secondsPlayed: 61,
      inputTokens: 900,
      outputTokens: 300,
      totalTokens: 1200,
    });
    await status.execute(commandContext(h, "status"), h.services);
    const message = h.transport.messages[0];
    expect(message?.ephemeral).toBe(true);
    const text = JSON.stringify(message?.embeds);
    expect(text).toContain("not in a voice channel");
    expect(text).toContain("Azure Voice Live");
    expect(text).toContain("audio sent 2 min 5 s, audio played 1 min 1 s");
    expect(text).toContain("tokens: 900 in, 300 out, 1200 total");
    expect(text).toContain("voice alloy");
  });

  it("shows the conversation's figures when running", async () => {
    h.conversations.active.set(GUILD_ID, VOICE.id);
    await status.execute(commandContext(h, "status"), h.services);
    const text = JSON.stringify(h.transport.messages[0]?.embeds);
    expect(text).toContain(`<#${VOICE.id}>`);
    expect(text).toContain("Voice Live: connected");
    expect(text).toContain("in: p50 21 ms, p99 43 ms");
    expect(text).toContain("out: no data yet");
    expect(text).toContain("800, 1200, 700 ms (median 800 ms)");
  });
});
