import { PermissionFlagsBits } from "discord.js";
import { describe, expect, it } from "vitest";
import { createMemoryLogger } from "../../src/log.ts";
import { TOOL_NAMES, type ToolName } from "../../src/persona.ts";
import { BUILTIN_TOOLS } from "../../src/tools/builtin.ts";
import { ToolExecutor } from "../../src/tools/executor.ts";
import type { Tool, ToolEnvironment } from "../../src/tools/tool.ts";

/** What the model gets back from each call, and what the tools did to the guild. */

const MOD = "100000000000000001";
const GUEST = "100000000000000002";

interface Rig {
  readonly executor: ToolExecutor;
  readonly actions: string[];
}

function rig(
  options: { enabled?: readonly ToolName[]; tools?: readonly Tool[]; timeoutMs?: number } = {},
): Rig {
  const actions: string[] = [];
  const env: ToolEnvironment = {
    roster: () => ["Mod", "Guest"],
    leave: async (askedBy) => {
      actions.push(`leave:${askedBy.join(",")}`);
    },
    setCaptions: async (enabled) => {
      actions.push(`captions:${enabled}`);
      return enabled ? "Captions are on." : "Captions are off.";
    },
    changeVoice: async (voice) => {
      actions.push(`voice:${voice}`);
      return `The voice is now ${voice}.`;
    },
    timeZone: async () => "Europe/Paris",
    now: () => new Date("2026-12-04T12:30:00Z"),
  };
  const executor = new ToolExecutor({
    tools: options.tools ?? BUILTIN_TOOLS,
    env,
    enabled: async () => options.enabled ?? TOOL_NAMES,
    hasPermission: async (userId, flag) => userId === MOD && flag === PermissionFlagsBits.ManageGuild,
    displayName: (userId) => (userId === MOD ? "Mod" : userId === GUEST ? "Guest" : undefined),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    logger: createMemoryLogger().logger,
  });
  return { executor, actions };
}

const call = (name: string, args: unknown, speakerIds: readonly string[]) => ({
  callId: "call_1",
  name,
  arguments: typeof args === "string" ? args : JSON.stringify(args),
  speakerIds,
});

describe("ToolExecutor", () => {
  it("refuses change_voice to a speaker without Manage Server, naming them, and changes nothing", async () => {
    const { executor, actions } = rig();
    const result = await executor.run(call("change_voice", { voice: "echo" }, [GUEST]));
    expect(result.allowed).toBe(false);
    expect(JSON.parse(result.output)).toEqual({
      error: "refused",
      reason: expect.stringContaining("Manage Server permission may ask for this, and Guest may not"),
    });
    expect(actions).toEqual([]);
  });

  it("refuses when any speaker of the turn lacks the permission, or nobody is known", async () => {
    const { executor, actions } = rig();
    expect((await executor.run(call("set_captions", { enabled: true }, [MOD, GUEST]))).allowed).toBe(false);
    expect((await executor.run(call("set_captions", { enabled: true }, []))).allowed).toBe(false);
    expect(actions).toEqual([]);
  });

  it("runs it for a speaker who holds the permission", async () => {
    const { executor, actions } = rig();
    const result = await executor.run(call("change_voice", { voice: "echo" }, [MOD]));
    expect(result).toEqual({ output: JSON.stringify({ result: "The voice is now echo." }), allowed: true });
    expect(actions).toEqual(["voice:echo"]);
  });

  it("lets anyone ask for the tools without a permission", async () => {
    const { executor, actions } = rig();
    expect(JSON.parse((await executor.run(call("who_is_here", {}, [GUEST]))).output)).toEqual({
      result: "In the channel: Mod, Guest.",
    });
    // 12:30 UTC is 13:30 in Paris in December (the punctuation follows the ICU version).
    const time = JSON.parse((await executor.run(call("current_time", {}, [GUEST]))).output).result;
    expect(time).toMatch(/Friday,? 4 December 2026.*13:30 \(Europe\/Paris\)\./);
    await executor.run(call("leave_channel", {}, [GUEST]));
    expect(actions).toEqual([`leave:${GUEST}`]);
  });

  it("refuses a tool the guild turned off, and one that does not exist", async () => {
    const { executor } = rig({ enabled: ["who_is_here"] });
    expect((await executor.run(call("current_time", {}, [MOD]))).allowed).toBe(false);
    expect((await executor.run(call("format_disk", {}, [MOD]))).allowed).toBe(false);
    expect(executor.definitions(["who_is_here"]).map((tool) => tool.name)).toEqual(["who_is_here"]);
  });

  it("answers arguments that are not a JSON object with a refusal", async () => {
    const { executor, actions } = rig();
    expect((await executor.run(call("change_voice", "{not json", [MOD]))).allowed).toBe(false);
    expect((await executor.run(call("change_voice", "[1]", [MOD]))).allowed).toBe(false);
    expect(actions).toEqual([]);
  });

  it("gives up on a tool that hangs and tells the model to apologise", async () => {
    const hangs: Tool = {
      name: "who_is_here",
      description: "hangs",
      parameters: {},
      permission: undefined,
      run: () => new Promise<string>(() => {}),
    };
    const { executor } = rig({ tools: [hangs], timeoutMs: 50 });
    const output = JSON.parse((await executor.run(call("who_is_here", {}, [GUEST]))).output);
    expect(output).toEqual({ error: "timeout", message: expect.stringContaining("Apologise") });
  });

  it("turns a failure into an apology and bounds what it returns", async () => {
    const fails: Tool = {
      name: "who_is_here",
      description: "fails",
      parameters: {},
      permission: undefined,
      run: async () => {
        throw new Error("the guild is unavailable");
      },
    };
    const long: Tool = { ...fails, name: "current_time", run: async () => "x".repeat(10_000) };
    const { executor } = rig({ tools: [fails, long] });
    expect(JSON.parse((await executor.run(call("who_is_here", {}, [GUEST]))).output)).toEqual({
      error: "failed",
      message: expect.stringContaining("the guild is unavailable"),
    });
    const bounded = JSON.parse((await executor.run(call("current_time", {}, [GUEST]))).output).result;
    expect(bounded.length).toBeLessThanOrEqual(2_000);
  });
});
