import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { command as join } from "../../commands/join.ts";
import { command as leave } from "../../commands/leave.ts";
import { permissionBits } from "../../src/discord/permissions.ts";
import {
  commandContext,
  createHarness,
  GUILD_ID,
  type Harness,
  OTHER_VOICE,
  ROLE,
  TEXT,
  USER_ID,
  VOICE,
} from "../discord/doubles.ts";
import { testGuildId } from "../store/helpers/defaults.ts";

let h: Harness;
beforeEach(async () => {
  h = await createHarness();
});
afterEach(() => h.store.close());

describe("/join", () => {
  it("defers, then joins the caller's channel with the stored persona and answers with an embed", async () => {
    await h.store.changePersona(GUILD_ID, { voice: "coral" });
    await join.execute(commandContext(h, "join"), h.services);

    expect(h.conversations.callsAtJoin).toEqual([{ type: "deferReply", ephemeral: false }]);
    const request = h.conversations.joins[0];
    expect(request).toMatchObject({
      guildId: GUILD_ID,
      channelId: VOICE.id,
      channelName: "Lounge",
      initiatorId: USER_ID,
    });
    expect(request?.settings.persona.voice).toBe("coral");
    expect(request?.adapterCreator).toBe(h.guild.adapterCreator);

    expect(h.transport.calls.at(-1)?.type).toBe("editReply");
    const embed = h.transport.messages.at(-1)?.embeds?.[0];
    const fields = Object.fromEntries((embed?.fields ?? []).map((field) => [field.name, field.value]));
    expect(fields.Channel).toBe(`<#${VOICE.id}>`);
    expect(fields.Backend).toBe("Azure Voice Live");
    expect(fields.Persona).toContain("voice coral");
    expect(h.started).toEqual([GUILD_ID]);
  });

  it("says so when the Voice Live connection budget makes it wait, then answers as usual", async () => {
    h.conversations.connectionWaitMs = 19_200;
    await join.execute(commandContext(h, "join"), h.services);
    expect(h.transport.calls.map((call) => call.type)).toEqual(["deferReply", "editReply", "followUp"]);
    expect(h.transport.messages[0]?.content).toBe(
      `Voice Live is busy: joining <#${VOICE.id}> in about 20 s…`,
    );
    expect(h.transport.messages.at(-1)?.embeds?.[0]?.title).toBe("Listening");
  });

  it("says nothing of a wait for the budget that is over in a moment", async () => {
    h.conversations.connectionWaitMs = 400;
    await join.execute(commandContext(h, "join"), h.services);
    expect(h.transport.calls.map((call) => call.type)).toEqual(["deferReply", "editReply"]);
  });

  it("joins the channel given, even when the caller is not in voice", async () => {
    h.guild.voiceStates.clear();
    await join.execute(commandContext(h, "join", { options: { channel: OTHER_VOICE } }), h.services);
    expect(h.conversations.joins[0]?.channelId).toBe(OTHER_VOICE.id);
  });

  it("refuses a channel that is not a voice channel", async () => {
    await join.execute(commandContext(h, "join", { options: { channel: TEXT } }), h.services);
    expect(h.conversations.joins).toHaveLength(0);
    expect(h.transport.calls).toEqual([
      {
        type: "reply",
        message: {
          content: expect.stringMatching(/^channel: .* is not a voice or stage channel/),
          ephemeral: true,
        },
      },
    ]);
  });

  it("asks the caller to join a voice channel first", async () => {
    h.guild.voiceStates.clear();
    await join.execute(commandContext(h, "join"), h.services);
    expect(h.conversations.joins).toHaveLength(0);
    expect(h.transport.messages[0]).toMatchObject({
      ephemeral: true,
      content: expect.stringContaining("Join a voice channel first"),
    });
  });

  it("names the permissions the bot lacks in the channel, and does not try", async () => {
    h.guild.permissions.set(VOICE.id, permissionBits(["ViewChannel"]));
    await join.execute(commandContext(h, "join"), h.services);
    expect(h.conversations.joins).toHaveLength(0);
    expect(h.transport.calls).toHaveLength(1);
    expect(h.transport.messages[0]).toMatchObject({
      ephemeral: true,
      content: expect.stringContaining("I lack Connect, Speak"),
    });
  });

  it("treats Administrator as every permission", async () => {
    h.guild.permissions.set(VOICE.id, permissionBits(["Administrator"]));
    await join.execute(commandContext(h, "join"), h.services);
    expect(h.conversations.joins).toHaveLength(1);
  });

  it("says where it already talks instead of moving", async () => {
    h.conversations.active.set(GUILD_ID, OTHER_VOICE.id);
    await join.execute(commandContext(h, "join"), h.services);
    expect(h.conversations.joins).toHaveLength(0);
    expect(h.transport.messages[0]).toMatchObject({
      ephemeral: true,
      content: expect.stringContaining(`already talking in <#${OTHER_VOICE.id}>`),
    });
  });

  it("reports a join failure in the deferred reply", async () => {
    h.conversations.joinFailure = new Error("voice connection was not ready within 15 s");
    await join.execute(commandContext(h, "join"), h.services);
    expect(h.transport.calls.map((call) => call.type)).toEqual(["deferReply", "editReply"]);
    expect(h.transport.lastText).toContain("Could not start the conversation");
    expect(h.transport.lastText).toContain("not ready within 15 s");
    expect(h.logLines.join("\n")).toContain("join failed");
    expect(h.started).toEqual([]);
  });

  it("works only in a server", async () => {
    await join.execute(commandContext(h, "join", { inGuild: false }), h.services);
    expect(h.transport.messages[0]).toMatchObject({
      ephemeral: true,
      content: expect.stringContaining("only in a server"),
    });
  });
});

describe("the join request", () => {
  async function joined() {
    await join.execute(commandContext(h, "join"), h.services);
    const request = h.conversations.joins[0];
    if (request === undefined) throw new Error("no join");
    return request;
  }

  it("hears people by the listen policy stored now, and never bots", async () => {
    const request = await joined();
    const other = testGuildId(200);
    const bot = testGuildId(201);
    h.guild.members.set(other, { bot: false, roleIds: [ROLE.id], permissions: 0n });
    h.guild.members.set(bot, { bot: true, roleIds: [ROLE.id], permissions: 0n });

    expect(await request.isAllowedSpeaker(other)).toBe(true);
    expect(await request.isAllowedSpeaker(bot)).toBe(false);
    await h.store.setListenPolicy(GUILD_ID, { mode: "initiator" });
    expect(await request.isAllowedSpeaker(other)).toBe(false);
    expect(await request.isAllowedSpeaker(USER_ID)).toBe(true);
    await h.store.setListenPolicy(GUILD_ID, { mode: "role", roleId: ROLE.id });
    expect(await request.isAllowedSpeaker(other)).toBe(true);
    expect(await request.isAllowedSpeaker(USER_ID)).toBe(false);
    expect(await request.isAllowedSpeaker(bot)).toBe(false);
    expect(await request.isAllowedSpeaker(testGuildId(202))).toBe(false);
  });

  it("posts captions only while they are on, where the settings say", async () => {
    const request = await joined();
    expect(await request.captions?.post("hello")).toBeUndefined();
    expect(h.guild.sent).toHaveLength(0);

    await h.store.setCaptions(GUILD_ID, { enabled: true, channelId: null });
    const handle = await request.captions?.post("hello");
    expect(h.guild.sent).toEqual([{ channelId: VOICE.id, text: "hello", id: "1" }]);
    await request.captions?.edit(handle ?? "", "hello there");
    expect(h.guild.edits).toEqual([{ channelId: VOICE.id, messageId: "1", text: "hello there" }]);

    await h.store.setCaptions(GUILD_ID, { enabled: true, channelId: TEXT.id });
    await request.captions?.post("x".repeat(2500));
    expect(h.guild.sent[1]?.channelId).toBe(TEXT.id);
    expect(h.guild.sent[1]?.text.length).toBe(2000);
  });

  it("keeps a failing post away from the conversation and logs it", async () => {
    const request = await joined();
    h.guild.send = () => Promise.reject(new Error("Missing Permissions"));
    await expect(request.notify("reconnecting", VOICE.id)).resolves.toBeUndefined();
    expect(h.logLines.join("\n")).toContain("Missing Permissions");
  });
});

describe("/leave", () => {
  it("says when nothing is running", async () => {
    await leave.execute(commandContext(h, "leave"), h.services);
    expect(h.conversations.left).toHaveLength(0);
    expect(h.transport.messages[0]).toMatchObject({
      ephemeral: true,
      content: "I'm not in a voice channel here.",
    });
  });

  it("ends the conversation", async () => {
    h.conversations.active.set(GUILD_ID, VOICE.id);
    await leave.execute(commandContext(h, "leave"), h.services);
    expect(h.conversations.left).toEqual([GUILD_ID]);
    expect(h.transport.lastText).toBe(`Left <#${VOICE.id}>.`);
  });
});
