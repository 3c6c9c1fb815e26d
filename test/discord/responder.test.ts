import { describe, expect, it } from "vitest";
import { InteractionResponder } from "../../src/discord/responder.ts";
import { RecordingTransport } from "./doubles.ts";

describe("InteractionResponder", () => {
  it("replies, then follows up", async () => {
    const transport = new RecordingTransport();
    const responder = new InteractionResponder(transport);
    expect(responder.state).toBe("none");
    await responder.reply({ content: "one" });
    await responder.reply({ content: "two", ephemeral: true });
    expect(transport.calls.map((call) => call.type)).toEqual(["reply", "followUp"]);
    expect(responder.state).toBe("replied");
  });

  it("turns a reply after a deferral into an edit, even while the deferral is in flight", async () => {
    const transport = new RecordingTransport();
    let release: () => void = () => undefined;
    const deferred = new Promise<void>((resolve) => {
      release = resolve;
    });
    transport.deferReply = async (ephemeral) => {
      await deferred;
      transport.calls.push({ type: "deferReply", ephemeral });
    };
    const responder = new InteractionResponder(transport);
    const defer = responder.defer({ ephemeral: true });
    expect(responder.state).toBe("deferred");
    const reply = responder.reply({ content: "answer" });
    expect(responder.state).toBe("replied");
    release();
    await Promise.all([defer, reply]);
    expect(transport.calls).toEqual([
      { type: "deferReply", ephemeral: true },
      { type: "editReply", message: { content: "answer" } },
    ]);
  });

  it("defers only once and refuses a modal after any answer", async () => {
    const transport = new RecordingTransport();
    const responder = new InteractionResponder(transport);
    await responder.defer({ ephemeral: false });
    await responder.defer({ ephemeral: true });
    expect(transport.calls).toEqual([{ type: "deferReply", ephemeral: false }]);
    await expect(responder.showModal({ custom_id: "x", title: "t", components: [] })).rejects.toThrow(
      /first answer/,
    );
  });

  it("keeps answering after a failed call", async () => {
    const transport = new RecordingTransport();
    const responder = new InteractionResponder(transport);
    transport.failure = new Error("Unknown interaction");
    await expect(responder.reply({ content: "lost" })).rejects.toThrow("Unknown interaction");
    transport.failure = undefined;
    await responder.reply({ content: "next" });
    expect(transport.calls).toEqual([{ type: "followUp", message: { content: "next" } }]);
  });
});
