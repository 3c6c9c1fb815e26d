import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  type BargeInInfo,
  GuildBridge,
  type GuildBridgeOptions,
  type ToolCallRecord,
} from "../../src/bridge/guild-bridge.ts";
import type { ToolCall, ToolRunner } from "../../src/bridge/ports.ts";
import type { CaptionSink } from "../../src/bridge/types.ts";
import { createMemoryLogger } from "../../src/log.ts";
import { defaultPersona, type GuildSettings } from "../../src/persona.ts";
import { ToolExecutor } from "../../src/tools/executor.ts";
import type { Tool, ToolEnvironment } from "../../src/tools/tool.ts";
import { ScriptedRealtime, ScriptedVoiceChannel } from "./scripted-ports.ts";

/**
 * The bridge's decisions with both sides scripted: what a barge-in sends and cuts, what captions
 * say, when the bot ducks, what reaches the session. The same behaviour over real sockets is in
 * test/conversation/.
 */

const settings = (captions = false): GuildSettings => ({
  // The service's barge-in; smart turn-taking has its own tests (turn-taking.test.ts).
  persona: {
    ...defaultPersona({ instructions: "Be brief.", voice: "alloy" }),
    ducking: true,
    turnTaking: "service",
  },
  captions: { enabled: captions, channelId: null },
  listen: { mode: "everyone" },
});

interface Rig {
  readonly bridge: GuildBridge;
  readonly voice: ScriptedVoiceChannel;
  readonly realtime: ScriptedRealtime;
  readonly bargeIns: BargeInInfo[];
  readonly captions: string[][];
  readonly notices: string[];
  readonly ended: string[];
}

const bridges: GuildBridge[] = [];
afterEach(async () => {
  await Promise.all(bridges.splice(0).map((bridge) => bridge.end("test over")));
});

function rig(
  options: Partial<GuildBridgeOptions> & { captionsOn?: boolean; attribution?: boolean } = {},
): Rig {
  const voice = new ScriptedVoiceChannel();
  const realtime = new ScriptedRealtime();
  const bargeIns: BargeInInfo[] = [];
  const captions: string[][] = [];
  const notices: string[] = [];
  const ended: string[] = [];
  const sink: CaptionSink = {
    post: async (text) => {
      captions.push([text]);
      return String(captions.length - 1);
    },
    edit: async (handle, text) => {
      captions[Number(handle)]!.push(text);
    },
  };
  const bridge = new GuildBridge({
    guildId: "guild-1",
    backend: "local",
    settings: withAttribution(settings(options.captionsOn ?? false), options.attribution ?? true),
    displayName: (userId) => NAMES[userId],
    voice,
    realtime,
    sessionConfig: () => ({ ok: true, config: {} }),
    inputRate: 24_000,
    notify: async (text) => {
      notices.push(text);
    },
    captions: sink,
    names: { nameOf: (id) => `@${id}` },
    botName: "Bot",
    idleTimeoutMs: 60_000,
    onEnded: (reason) => ended.push(reason),
    observer: { bargeIn: (info) => bargeIns.push(info) },
    logger: createMemoryLogger().logger,
    ...options,
  });
  bridges.push(bridge);
  return { bridge, voice, realtime, bargeIns, captions, notices, ended };
}

const NAMES: Readonly<Record<string, string>> = { alice: "Alice", bob: "Bob", carol: "Carol" };

function withAttribution(base: GuildSettings, attribution: boolean): GuildSettings {
  return { ...base, persona: { ...base.persona, attribution } };
}

/** The texts of the system notes the bridge created, in order. */
function notes(realtime: ScriptedRealtime): string[] {
  return realtime.items.flatMap((item) =>
    item.type === "message" && item.role === "system"
      ? item.content.flatMap((part) => (part.type === "input_text" ? [part.text] : []))
      : [],
  );
}

const speech = (): Int16Array => new Int16Array(480).fill(6000);

/** Lets the caption writer's spaced posts and edits go out (its clock is faked). */
async function settle(): Promise<void> {
  await vi.advanceTimersByTimeAsync(5_000);
}

describe("GuildBridge barge-in (scripted ports)", () => {
  it("mid-answer: stops the channel, cancels the response and truncates at the played position", () => {
    const { voice, realtime, bargeIns } = rig();
    realtime.startResponse("resp-1");
    realtime.audio("resp-1", "item-1", 1000);
    voice.output.playFrames(20);

    realtime.speechStarted("user-2");

    expect(voice.output.speaking).toBe(false);
    expect(realtime.cancels).toBe(1);
    expect(realtime.truncations).toEqual([{ itemId: "item-1", audioEndMs: 400, contentIndex: 0 }]);
    expect(bargeIns).toEqual([
      expect.objectContaining({ itemId: "item-1", playedMs: 400, receivedMs: 1000, framesFlushed: 30 }),
    ]);
  });

  it("truncates at the content part that was playing", () => {
    const { voice, realtime } = rig();
    realtime.startResponse("resp-1");
    realtime.audio("resp-1", "item-1", 600, 1);
    voice.output.playFrames(5);
    realtime.speechStarted("user-2");
    expect(realtime.truncations).toEqual([{ itemId: "item-1", audioEndMs: 100, contentIndex: 1 }]);
  });

  it("after the response is complete but still playing: truncates without a cancel", () => {
    const { voice, realtime } = rig();
    realtime.startResponse("resp-1");
    realtime.audio("resp-1", "item-1", 1000);
    realtime.audioDone("resp-1", "item-1");
    realtime.responseDone("resp-1");
    voice.output.playFrames(10);

    realtime.speechStarted("user-2");

    expect(realtime.cancels).toBe(0);
    expect(realtime.truncations).toEqual([{ itemId: "item-1", audioEndMs: 200, contentIndex: 0 }]);
  });

  it("does nothing when the bot is silent and nothing is being generated", () => {
    const { voice, realtime, bargeIns } = rig();
    realtime.startResponse("resp-1");
    realtime.audio("resp-1", "item-1", 200);
    realtime.responseDone("resp-1");
    voice.output.playFrames(10);

    realtime.speechStarted("user-2");

    expect(realtime.cancels).toBe(0);
    expect(realtime.truncations).toEqual([]);
    expect(bargeIns).toEqual([]);
  });

  it("plays nothing more of a cut response, but plays the next one", () => {
    const { voice, realtime } = rig();
    realtime.startResponse("resp-1");
    realtime.audio("resp-1", "item-1", 400);
    realtime.speechStarted("user-2");
    realtime.audio("resp-1", "item-1", 400);
    expect(voice.output.speaking).toBe(false);

    realtime.startResponse("resp-2");
    realtime.audio("resp-2", "item-2", 400);
    expect(voice.output.speaking).toBe(true);
  });
});

describe("GuildBridge captions (scripted ports)", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "performance"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("posts the user's words and the answer, then cuts the answer to what was played", async () => {
    const { voice, realtime, captions } = rig({ captionsOn: true });
    voice.speak("alice", new Int16Array(480).fill(8000));
    realtime.speechStarted("user-1");
    realtime.speechStopped("user-1");
    realtime.userTranscript("user-1", "What is the weather like?");
    realtime.startResponse("resp-1");
    realtime.assistantItem("resp-1", "item-1");
    realtime.audio("resp-1", "item-1", 1000);
    realtime.transcriptDone("resp-1", "item-1", "It is sunny and warm all day today.");
    await settle();
    voice.output.playFrames(25);

    realtime.speechStarted("user-2");
    await settle();

    const last = captions.at(-1)?.at(-1);
    expect(captions[0]?.[0]).toContain("What is the weather like?");
    expect(last).toContain("_(interrupted)_");
    expect(last).toContain("It is sunny");
    expect(last).not.toContain("today.");
  });
});

describe("GuildBridge word-timed captions (scripted ports)", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "performance"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("ends a cut answer's caption at the last word whose audio was played", async () => {
    const { voice, realtime, captions } = rig({ captionsOn: true });
    voice.speak("alice", new Int16Array(480).fill(8000));
    realtime.speechStarted("user-1");
    realtime.userTranscript("user-1", "Weather?");
    realtime.startResponse("resp-1");
    realtime.assistantItem("resp-1", "item-1");
    realtime.audio("resp-1", "item-1", 2000);
    const words = ["Rain", "is", "likely", "after", "lunch,", "so", "take", "an", "umbrella."];
    // Uneven timing, as real speech has: the proportional cut would end after "after".
    const starts = [0, 100, 200, 400, 600, 900, 1050, 1200, 1300];
    words.forEach((word, k) => {
      realtime.word(
        "resp-1",
        "item-1",
        word.replace(/[,.]/g, ""),
        starts[k]!,
        (starts[k + 1] ?? 2000) - starts[k]!,
      );
    });
    realtime.transcriptDone("resp-1", "item-1", words.join(" "));
    await settle();
    voice.output.playFrames(55);

    realtime.speechStarted("user-2");
    await settle();

    // 1100 ms played: "so" ends at 1050, "take" at 1200.
    expect(captions.at(-1)?.at(-1)).toContain("Rain is likely after lunch, so…");
  });
});

describe("GuildBridge voice (scripted ports)", () => {
  it("ducks while a listened-to member talks over the bot and restores the volume on silence", () => {
    const { voice, realtime } = rig();
    realtime.startResponse("resp-1");
    realtime.audio("resp-1", "item-1", 1000);
    voice.happen("speakingStarted", "alice");
    expect(voice.output.gain).toBeCloseTo(0.35);
    voice.happen("silence");
    expect(voice.output.gain).toBe(1);
  });

  it("appends the speakers' mix to the session on the clock, then the silence tail, then nothing", () => {
    const { bridge, voice, realtime } = rig();
    for (let t = 0; t < 5; t++) {
      voice.speak("alice", new Int16Array(480).fill(4000));
      voice.speak("bob", new Int16Array(480).fill(3000));
      bridge.tick(t * 20);
    }
    expect(realtime.appends.slice(0, 5).map((pcm) => pcm[0])).toEqual([7000, 7000, 7000, 7000, 7000]);
    for (let t = 5; t < 200; t++) bridge.tick(t * 20);
    const tail = realtime.appends.length - 5;
    // The tail is the persona's silence duration plus 500 ms, in 20 ms frames of digital silence.
    expect(tail).toBeGreaterThan(0);
    expect(realtime.appends.slice(5).every((pcm) => pcm.every((sample) => sample === 0))).toBe(true);
    const before = realtime.appends.length;
    bridge.tick(200 * 20);
    expect(realtime.appends.length).toBe(before);
  });

  it("tells the channel once and ends when the voice connection is lost", () => {
    const { voice, notices, ended } = rig();
    voice.happen("ended", { kind: "kicked", message: "a moderator disconnected me" });
    expect(notices).toEqual(["Conversation ended: a moderator disconnected me."]);
    expect(ended).toEqual(["a moderator disconnected me"]);
  });

  it("stops playing what answered a lost context when the session reconnects", () => {
    const { voice, realtime, notices } = rig();
    realtime.startResponse("resp-1");
    realtime.audio("resp-1", "item-1", 1000);
    realtime.happen("reconnecting", { attempt: 1, delayMs: 100, reason: "socket closed" });
    expect(voice.output.speaking).toBe(false);
    expect(notices).toHaveLength(1);
  });
});

describe("GuildBridge speaker attribution (scripted ports)", () => {
  it("names who speaks before each user turn, and who joins it", () => {
    vi.useFakeTimers({ toFake: ["performance"] });
    const { bridge, voice, realtime } = rig();
    voice.speak("alice", speech());
    bridge.tick(0);
    realtime.speechStarted("user-1");
    voice.speak("bob", speech());
    bridge.tick(20);
    bridge.tick(40); // the mixer waits one tick for Alice's next frame before it mixes Bob alone
    realtime.speechStopped("user-1");
    vi.advanceTimersByTime(2_000);
    voice.speak("bob", speech());
    bridge.tick(2_000);
    realtime.speechStarted("user-2");
    vi.useRealTimers();

    expect(notes(realtime)).toEqual([
      'Speaking in the next turn: "Alice".',
      'Also speaking in this turn: "Bob".',
      'Speaking in the next turn: "Bob".',
    ]);
  });

  it("says nothing of who speaks when the persona turns attribution off", () => {
    const { bridge, voice, realtime } = rig({ attribution: false });
    voice.speak("alice", speech());
    bridge.tick(0);
    realtime.speechStarted("user-1");
    expect(realtime.items).toEqual([]);
  });

  it("updates the roster in the instructions once for joins and leaves close together", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout"] });
    try {
      let roster = ["Alice"];
      const built: (readonly string[])[] = [];
      const { bridge, realtime } = rig({
        roster: () => roster,
        sessionConfig: (_settings, names) => {
          built.push(names);
          return { ok: true, config: { instructions: names.join(",") } };
        },
      });
      roster = ["Alice", "Bob"];
      bridge.rosterChanged();
      roster = ["Alice", "Bob", "Carol"];
      bridge.rosterChanged();
      await vi.advanceTimersByTimeAsync(1_500);
      expect(built).toEqual([["Alice", "Bob", "Carol"]]);
      expect(realtime.updates).toEqual([{ instructions: "Alice,Bob,Carol" }]);
      bridge.rosterChanged();
      await vi.advanceTimersByTimeAsync(1_500);
      expect(realtime.updates).toHaveLength(1);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("GuildBridge tool calls (scripted ports)", () => {
  it("runs a call for the turn's speakers, gives the output back and lets the model answer", async () => {
    const calls: ToolCall[] = [];
    const tools: ToolRunner = {
      definitions: () => [],
      run: async (call) => {
        calls.push(call);
        return { output: '{"result":"done"}', allowed: true };
      },
    };
    const recorded: ToolCallRecord[] = [];
    const { bridge, voice, realtime } = rig({
      tools,
      observer: { toolCalled: (call) => recorded.push(call) },
    });
    voice.speak("bob", speech());
    bridge.tick(0);
    realtime.speechStarted("user-1");
    realtime.speechStopped("user-1");
    realtime.startResponse("resp-1");
    realtime.functionCall("resp-1", "call-1", "who_is_here", "{}");
    realtime.responseDone("resp-1");
    await vi.waitFor(() => expect(realtime.responsesRequested).toBe(1));

    expect(calls).toEqual([{ callId: "call-1", name: "who_is_here", arguments: "{}", speakerIds: ["bob"] }]);
    expect(realtime.items.at(-1)).toEqual({
      type: "function_call_output",
      call_id: "call-1",
      output: '{"result":"done"}',
    });
    expect(recorded).toEqual([
      { name: "who_is_here", speakerIds: ["bob"], allowed: true, ms: expect.any(Number) },
    ]);
  });

  it("runs nothing for a response the user cut off", async () => {
    let runs = 0;
    const tools: ToolRunner = {
      definitions: () => [],
      run: async () => {
        runs++;
        return { output: "{}", allowed: true };
      },
    };
    const { voice, realtime } = rig({ tools });
    realtime.startResponse("resp-1");
    realtime.audio("resp-1", "item-1", 400);
    voice.output.playFrames(2);
    realtime.speechStarted("user-2");
    realtime.functionCall("resp-1", "call-1", "leave_channel", "{}");
    realtime.responseDone("resp-1", "cancelled");
    await new Promise((resolve) => setImmediate(resolve));
    expect(runs).toBe(0);
    expect(realtime.responsesRequested).toBe(0);
  });

  it("gives up on a tool that hangs, and the model answers with the apology", async () => {
    const hangs: Tool = {
      name: "who_is_here",
      description: "never answers",
      parameters: {},
      permission: undefined,
      run: () => new Promise<string>(() => {}),
    };
    const tools = new ToolExecutor({
      tools: [hangs],
      env: {} as ToolEnvironment,
      enabled: async () => ["who_is_here"],
      hasPermission: async () => false,
      displayName: () => undefined,
      timeoutMs: 50,
      logger: createMemoryLogger().logger,
    });
    const { realtime } = rig({ tools });
    realtime.startResponse("resp-1");
    realtime.functionCall("resp-1", "call-1", "who_is_here", "{}");
    realtime.responseDone("resp-1");
    await vi.waitFor(() => expect(realtime.responsesRequested).toBe(1), { timeout: 2_000 });
    const output = realtime.items.at(-1);
    expect(output?.type === "function_call_output" && JSON.parse(output.output)).toMatchObject({
      error: "timeout",
    });
  });
});
