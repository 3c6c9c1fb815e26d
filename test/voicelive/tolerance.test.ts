/**
 * The parser is as tolerant as the spec: `item` is optional on three events, and the documented
 * events the bot does not act on are skipped quietly (never "unknown", never "invalid").
 */
import { describe, expect, it } from "vitest";
import { parseServerEvent } from "../../src/voicelive/parse-server-event.ts";

const parse = (value: Record<string, unknown>) =>
  parseServerEvent(JSON.stringify({ event_id: "e1", ...value }));

describe("optional fields the spec allows to be absent", () => {
  it.each([
    { type: "response.output_item.added", response_id: "r1", output_index: 0 },
    { type: "response.output_item.done", response_id: "r1", output_index: 0 },
    { type: "conversation.item.created", previous_item_id: "i0" },
  ])("delivers $type without an item", (event) => {
    const result = parse(event);
    expect(result.kind).toBe("event");
    expect(result.kind === "event" && result.event.type).toBe(event.type);
  });

  it("delivers an output item of an unmodelled kind (MCP) with the item left out", () => {
    const result = parse({
      type: "response.output_item.added",
      response_id: "r1",
      output_index: 0,
      item: { type: "mcp_call", id: "m1", server_label: "docs", name: "search", arguments: "{}" },
    });
    expect(result.kind).toBe("event");
    expect(result.kind === "event" && "item" in result.event).toBe(false);
  });

  it("still refuses an event whose required field is wrong", () => {
    expect(parse({ type: "response.output_item.added", output_index: 0 }).kind).toBe("invalid");
  });

  it("reads rate_limits.updated with or without its documented fields", () => {
    expect(parse({ type: "rate_limits.updated" }).kind).toBe("event");
    const full = parse({
      type: "rate_limits.updated",
      rate_limits: [{ name: "tokens", limit: 120000, remaining: 119000, reset_seconds: 12.5 }],
    });
    expect(full.kind === "event" && full.event).toMatchObject({ rate_limits: [{ name: "tokens" }] });
  });
});

describe("documented events the bot does not act on", () => {
  it("parses word timestamps, which captions use", () => {
    const word = parse({
      type: "response.audio_timestamp.delta",
      response_id: "r",
      item_id: "i",
      output_index: 0,
      content_index: 0,
      audio_offset_ms: 120,
      audio_duration_ms: 200,
      text: "hi",
      timestamp_type: "word",
    });
    expect(word.kind === "event" && word.event).toMatchObject({ audio_offset_ms: 120, text: "hi" });
  });

  it.each([
    {
      type: "response.audio_timestamp.done",
      response_id: "r",
      item_id: "i",
      output_index: 0,
      content_index: 0,
    },
    { type: "mcp_list_tools.completed", item_id: "i" },
    {
      type: "response.mcp_call_arguments.delta",
      response_id: "r",
      item_id: "i",
      output_index: 0,
      delta: "{",
    },
    { type: "response.mcp_call.completed", item_id: "i", output_index: 0 },
    { type: "session.avatar.connecting", server_sdp: "v=0" },
    { type: "session.avatar.switch_to_speaking" },
    {
      type: "response.animation_viseme.delta",
      response_id: "r",
      item_id: "i",
      output_index: 0,
      content_index: 0,
      audio_offset_ms: 0,
      viseme_id: 3,
    },
    { type: "output_audio_buffer.cleared" },
  ])("skips $type quietly", (event) => {
    expect(parse(event)).toEqual({ kind: "ignored", type: event.type });
  });

  it("still reports an undocumented event as unknown", () => {
    expect(parse({ type: "response.something_new" })).toEqual({
      kind: "unknown",
      type: "response.something_new",
    });
  });
});
