import { describe, expect, it } from "vitest";
import { parseServerEvent } from "../../src/voicelive/parse-server-event.ts";

const scoped = { response_id: "resp_1", item_id: "item_1", output_index: 0, content_index: 0 };

function parse(value: unknown) {
  return parseServerEvent(typeof value === "string" ? value : JSON.stringify(value));
}

describe("parseServerEvent", () => {
  it("returns the events the bot acts on with their fields", () => {
    const started = parse({
      type: "input_audio_buffer.speech_started",
      event_id: "e1",
      audio_start_ms: 1200,
      item_id: "u1",
    });
    expect(started).toEqual({
      kind: "event",
      event: {
        type: "input_audio_buffer.speech_started",
        event_id: "e1",
        audio_start_ms: 1200,
        item_id: "u1",
      },
      warnings: [],
    });
    const delta = parse({ type: "response.audio.delta", ...scoped, delta: "AAAA" });
    expect(delta.kind).toBe("event");
    const done = parse({
      type: "response.done",
      response: {
        id: "resp_1",
        status: "cancelled",
        status_details: { type: "cancelled", reason: "turn_detected" },
        usage: {
          total_tokens: 30,
          input_tokens: 10,
          output_tokens: 20,
          output_token_details: { audio_tokens: 18 },
        },
        output: [
          {
            id: "item_1",
            type: "message",
            role: "assistant",
            content: [{ type: "audio", transcript: "Hi" }],
          },
        ],
      },
    });
    expect(
      done.kind === "event" &&
        done.event.type === "response.done" &&
        done.event.response.usage?.output_tokens,
    ).toBe(20);
  });

  it("keeps unknown fields and tolerates null optionals", () => {
    const result = parse({
      type: "input_audio_buffer.committed",
      item_id: "u1",
      previous_item_id: null,
      future_field: { nested: true },
    });
    expect(result.kind).toBe("event");
    expect(
      result.kind === "event" && (result.event as unknown as Record<string, unknown>).future_field,
    ).toEqual({
      nested: true,
    });
  });

  it("accepts the alternative spelling canceled as cancelled", () => {
    const result = parse({ type: "response.done", response: { id: "r", status: "canceled" } });
    expect(
      result.kind === "event" && result.event.type === "response.done" && result.event.response.status,
    ).toBe("cancelled");
  });

  it("skips documented events it does not act on, and drops unmodelled items (item is optional)", () => {
    expect(parse({ type: "response.animation_viseme.delta", viseme_id: 3 })).toEqual({
      kind: "ignored",
      type: "response.animation_viseme.delta",
    });
    const mcp = parse({ type: "conversation.item.created", item: { type: "mcp_call", id: "x" } });
    expect(mcp.kind).toBe("event");
    expect(
      mcp.kind === "event" && mcp.event.type === "conversation.item.created" && mcp.event.item,
    ).toBeUndefined();
    expect(parse({ type: "__proto__" }).kind).toBe("unknown");
  });

  it("rejects wrong types in required fields, naming the field", () => {
    const result = parse({ type: "input_audio_buffer.speech_started", audio_start_ms: "12", item_id: "u1" });
    expect(result).toEqual({
      kind: "invalid",
      reason: "input_audio_buffer.speech_started: audio_start_ms must be a finite number",
      type: "input_audio_buffer.speech_started",
    });
    expect(parse({ type: "response.audio.delta", ...scoped, delta: 5 }).kind).toBe("invalid");
    expect(parse({ type: "response.done", response: { id: "r", status: "exploded" } }).kind).toBe("invalid");
    expect(parse({ type: "error", error: { type: "server_error" } })).toMatchObject({
      kind: "invalid",
      reason: "error: error.message is missing",
    });
  });

  it("drops malformed optional parts with a warning instead of losing the event", () => {
    const result = parse({
      type: "response.done",
      response: {
        id: "r",
        status: "completed",
        usage: { total_tokens: "lots" },
        output: [{ type: "mcp_call" }, { type: "message", role: "assistant", content: [] }],
      },
    });
    expect(result.kind).toBe("event");
    if (result.kind !== "event" || result.event.type !== "response.done") return;
    expect(result.event.response.usage).toBeUndefined();
    expect(result.event.response.output).toHaveLength(1);
    expect(result.warnings).toEqual([
      "response.output[0] dropped: unsupported kind",
      "response.usage dropped: response.usage.total_tokens must be a finite number",
    ]);
  });

  it("never throws on garbage", () => {
    const garbage = [
      "",
      "not json",
      "{",
      "null",
      "[]",
      "42",
      '"text"',
      '{"type":5}',
      '{"type":null}',
      "[".repeat(100_000),
      JSON.stringify({ type: "x".repeat(1_000_000) }),
      JSON.stringify({ type: "session.created", session: "no" }),
      JSON.stringify({ type: "response.output_item.added", response_id: "r", output_index: 0, item: [] }),
      JSON.stringify({ type: "rate_limits.updated", rate_limits: [{ name: 1 }] }),
    ];
    for (const text of garbage) {
      const result = parseServerEvent(text);
      expect(["invalid", "unknown", "event"]).toContain(result.kind);
      if (result.kind !== "event") {
        const shown = result.kind === "invalid" ? result.reason : result.type;
        expect(shown.length).toBeLessThan(200);
      }
    }
  });
});
