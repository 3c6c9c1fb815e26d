import { SlashCommandBuilder } from "discord.js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Command, CommandContext } from "../../src/discord/context.ts";
import { RateLimiter } from "../../src/discord/rate-limit.ts";
import { createRouter, GENERIC_ERROR, type Router } from "../../src/discord/router.ts";
import { StoreUnavailableError } from "../../src/store/guild-store.ts";
import {
  commandContext,
  createHarness,
  GUILD_ID,
  type Harness,
  ManualClock,
  modalContext,
  USER_ID,
} from "./doubles.ts";

let h: Harness;
let clock: ManualClock;
let executed: string[];

function testCommand(name: string, execute: (ctx: CommandContext) => Promise<void>): Command {
  return {
    data: new SlashCommandBuilder().setName(name).setDescription(name),
    async execute(ctx) {
      executed.push(name);
      await execute(ctx);
    },
  };
}

const commands: Command[] = [
  testCommand("ok", (ctx) => ctx.reply({ content: "done" })),
  testCommand("boom", () => Promise.reject(new Error("database on fire"))),
  testCommand("defer-then-boom", async (ctx) => {
    await ctx.defer({ ephemeral: false });
    throw new Error("late failure");
  }),
  testCommand("reply-then-boom", async (ctx) => {
    await ctx.reply({ content: "half done" });
    throw new Error("after reply");
  }),
  testCommand("silent", async () => undefined),
  testCommand("no-database", () =>
    Promise.reject(new StoreUnavailableError(new Error("Connection terminated"))),
  ),
  {
    ...testCommand("form", (ctx) => ctx.reply({ content: "form" })),
    autocomplete() {
      throw new Error("autocomplete bug");
    },
    async submitModal(ctx) {
      if (ctx.field("text") === "fail") throw new Error("modal failure");
      await ctx.reply({ content: `got ${ctx.field("text")}`, ephemeral: true });
    },
  },
];

function router(perMinute = 100): Router {
  return createRouter({
    commands,
    services: h.services,
    limiter: new RateLimiter({ perMinute, now: () => clock.now }),
    logger: h.services.logger,
    schedule: clock.schedule,
  });
}

beforeEach(async () => {
  h = await createHarness();
  clock = new ManualClock();
  executed = [];
});
afterEach(() => h.store.close());

function logEntries(): Record<string, unknown>[] {
  return h.logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("errors", () => {
  it("answers a throwing handler with an ephemeral generic error and logs guild, command and user", async () => {
    await router().command(commandContext(h, "boom"));
    expect(h.transport.calls).toEqual([
      { type: "reply", message: { content: GENERIC_ERROR, ephemeral: true } },
    ]);
    const entry = logEntries().find((line) => line.msg === "command failed");
    expect(entry).toMatchObject({
      guildId: GUILD_ID,
      command: "boom",
      userId: USER_ID,
      err: { message: "database on fire" },
    });
  });

  it("edits the deferred reply when the handler throws after deferring", async () => {
    await router().command(commandContext(h, "defer-then-boom"));
    expect(h.transport.calls.map((call) => call.type)).toEqual(["deferReply", "editReply"]);
    expect(h.transport.lastText).toBe(GENERIC_ERROR);
  });

  it("follows up when the handler throws after replying", async () => {
    await router().command(commandContext(h, "reply-then-boom"));
    expect(h.transport.calls.at(-1)).toEqual({
      type: "followUp",
      message: { content: GENERIC_ERROR, ephemeral: true },
    });
  });

  it("tells the member the settings are unavailable when the database cannot be reached", async () => {
    await router().command(commandContext(h, "no-database"));
    expect(h.transport.lastText).toMatch(/^Server settings are unavailable right now .*try again/);
    expect(logEntries().some((line) => line.msg === "command failed: the database is unavailable")).toBe(
      true,
    );
  });

  it("answers a handler that returned without answering", async () => {
    await router().command(commandContext(h, "silent"));
    expect(h.transport.lastText).toBe(GENERIC_ERROR);
    expect(logEntries().some((line) => line.msg === "handler finished without answering")).toBe(true);
  });

  it("does not throw when Discord rejects even the error message", async () => {
    h.transport.failure = new Error("Unknown interaction");
    await expect(router().command(commandContext(h, "boom"))).resolves.toBeUndefined();
    expect(logEntries().some((line) => line.msg === "could not answer the interaction")).toBe(true);
  });

  it("answers an unknown command", async () => {
    await router().command(commandContext(h, "ghost"));
    expect(h.transport.messages[0]).toMatchObject({
      ephemeral: true,
      content: expect.stringContaining("don't know this command"),
    });
  });
});

describe("deadline", () => {
  it("defers a handler still working near Discord's 3 s limit, then edits in its answer", async () => {
    let finish: () => void = () => undefined;
    const slow = testCommand("slow", async (ctx) => {
      await new Promise<void>((resolve) => {
        finish = resolve;
      });
      await ctx.reply({ content: "finally", ephemeral: true });
    });
    const r = createRouter({
      commands: [slow],
      services: h.services,
      limiter: new RateLimiter({ perMinute: 10 }),
      logger: h.services.logger,
      schedule: clock.schedule,
    });
    const done = r.command(commandContext(h, "slow"));
    clock.advance(1_999);
    expect(h.transport.calls).toEqual([]);
    clock.advance(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(h.transport.calls).toEqual([{ type: "deferReply", ephemeral: true }]);
    finish();
    await done;
    expect(h.transport.calls.at(-1)).toEqual({
      type: "editReply",
      message: { content: "finally", ephemeral: true },
    });
    expect(clock.pending).toBe(0);
  });

  it("leaves a fast handler alone and cancels its timer", async () => {
    await router().command(commandContext(h, "ok"));
    clock.advance(5_000);
    expect(h.transport.calls.map((call) => call.type)).toEqual(["reply"]);
    expect(clock.pending).toBe(0);
  });
});

describe("rate limit", () => {
  it("answers 'slow down' past the per-guild budget, without running the command, and refills", async () => {
    const r = router(3);
    for (let i = 0; i < 3; i++) await r.command(commandContext(h, "ok"));
    await r.command(commandContext(h, "ok"));
    expect(executed).toHaveLength(3);
    expect(h.transport.messages.at(-1)).toMatchObject({
      ephemeral: true,
      content: expect.stringMatching(/^Slow down/),
    });
    expect(h.transport.lastText).toContain("Try again in 20 s");

    clock.now += 20_000;
    await r.command(commandContext(h, "ok"));
    expect(executed).toHaveLength(4);
  });
});

describe("autocomplete and modals", () => {
  it("offers no choices instead of throwing", async () => {
    const choices = await router().autocomplete({
      guildId: GUILD_ID,
      userId: USER_ID,
      commandName: "form",
      subcommand: null,
      focused: { name: "x", value: "" },
    });
    expect(choices).toEqual([]);
    expect(logEntries().some((line) => line.msg === "autocomplete failed")).toBe(true);
  });

  it("sends a modal to the command its id names", async () => {
    await router().modal(modalContext(h, "form:anything", { text: "hi" }));
    expect(h.transport.lastText).toBe("got hi");
  });

  it("answers a failing or unknown modal", async () => {
    await router().modal(modalContext(h, "form:x", { text: "fail" }));
    expect(h.transport.lastText).toBe(GENERIC_ERROR);
    await router().modal(modalContext(h, "nobody:x", {}));
    expect(h.transport.lastText).toContain("no longer handled");
  });
});
