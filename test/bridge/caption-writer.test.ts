import { describe, expect, it } from "vitest";
import { CaptionComposer, CaptionWriter, cutTranscript } from "../../src/bridge/captions.ts";
import { registerSecret } from "../../src/log.ts";

function recordingSink() {
  const calls: { kind: "post" | "edit"; text: string; handle?: string }[] = [];
  let next = 0;
  return {
    calls,
    sink: {
      async post(text: string) {
        calls.push({ kind: "post", text });
        return `m${++next}`;
      },
      async edit(handle: string, text: string) {
        calls.push({ kind: "edit", text, handle });
      },
    },
  };
}

const names = { nameOf: (id: string) => `<@${id}>` };

describe("captions", () => {
  it("cuts a transcript to the share of audio heard, at a word boundary", () => {
    expect(cutTranscript("one two three four", 500, 1000)).toBe("one two…");
    expect(cutTranscript("one two three four", 1000, 1000)).toBe("one two three four");
    expect(cutTranscript("one two", 0, 1000)).toBe("");
  });

  it("posts the user's words attributed to the speakers, then edits in the bot's answer", async () => {
    const { calls, sink } = recordingSink();
    const composer = new CaptionComposer(new CaptionWriter(sink, () => {}, 0), names, "Bot");
    composer.userTurnStarted("item_user");
    composer.speakersHeard(["42"]);
    composer.assistantItemStarted("item_bot");
    composer.userTranscript("item_user", "what is the weather");
    composer.assistantTranscript("item_bot", "sunny and *warm*", false);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(calls[0]).toEqual({ kind: "post", text: "**<@42>:** what is the weather" });
    expect(calls[1]?.kind).toBe("edit");
    expect(calls[1]?.text).toBe("**<@42>:** what is the weather\n**Bot:** sunny and \\*warm\\*");
  });

  it("marks an interrupted answer and never captions a secret", async () => {
    const secret = "sk-caption-secret-0123456789";
    registerSecret(secret);
    const { calls, sink } = recordingSink();
    const composer = new CaptionComposer(new CaptionWriter(sink, () => {}, 0), names, "Bot");
    composer.userTurnStarted("u1");
    composer.assistantItemStarted("b1");
    composer.assistantTranscript("b1", `my key is ${secret}`, true);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(calls[0]?.text).toContain("_(interrupted)_");
    expect(calls[0]?.text).not.toContain(secret);
  });

  it("spaces Discord calls and coalesces edits of one message to the latest text", async () => {
    const { calls, sink } = recordingSink();
    const writer = new CaptionWriter(sink, () => {}, 30);
    const handle = await writer.post("a");
    const edits = [writer.edit(handle!, "b"), writer.edit(handle!, "c"), writer.edit(handle!, "d")];
    await Promise.all(edits);
    expect(calls.map((call) => call.text)).toEqual(["a", "d"]);
  });
});
