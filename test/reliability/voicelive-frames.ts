import type { ServerEventType } from "../../src/voicelive/protocol.ts";
import type { Rng } from "./helpers.ts";

/**
 * Hostile Voice Live server frames for the fuzz suite: valid events of every type built over a
 * small pool of response and item ids (so events collide and arrive out of order: deltas for
 * unknown responses, `response.done` twice, `speech_started` mid-answer), the same events with
 * fields deleted, retyped or bloated, and raw garbage (invalid JSON, truncations, deep nesting,
 * bad base64, binary frames). Every frame is a pure function of the Rng, so a seed replays a run.
 */

export interface FuzzFrame {
  readonly kind: string;
  readonly data: string | Buffer;
  readonly binary: boolean;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const RESPONSE_IDS = ["resp_1", "resp_2", "resp_3", "resp_4"];
const ITEM_IDS = ["item_1", "item_2", "item_3", "item_4", "item_5", "item_6"];
const TRICKY_STRINGS = [
  "",
  "__proto__",
  "constructor",
  "toString",
  "hasOwnProperty",
  "\u0000",
  "\ud800",
  "\udfff\ud800",
  "\u202e\u2066evil",
  "@everyone",
  "<@123456789012345678>",
  "**`||bold||`**",
  "🎙️".repeat(20),
  "\n\r\t",
  "undefined",
  "NaN",
];
const STATUSES = ["in_progress", "completed", "cancelled", "canceled", "failed", "incomplete", "bogus"];
/** Base64 that Node decodes leniently but that is not canonical, or not base64 at all. */
const BAD_BASE64 = [
  "A",
  "AB",
  "ABC",
  "A===",
  "====",
  "AA=A",
  "@@@@",
  "AAAA AAAA",
  "AAA\u00e9",
  "AA\nAA==",
  "-_-_",
];

/** 24 kHz PCM16 of a quiet tone, `ms` long, as base64 (the shape a real delta has). */
function pcmBase64(rng: Rng, ms: number): string {
  const samples = Math.max(0, Math.round(ms * 24));
  const pcm = new Int16Array(samples);
  const step = (2 * Math.PI * rng.range(100, 3000)) / 24_000;
  for (let i = 0; i < samples; i++) pcm[i] = Math.round(3000 * Math.sin(step * i));
  return Buffer.from(pcm.buffer).toString("base64");
}

export class FrameFuzzer {
  readonly #rng: Rng;
  /** Upper bound for the occasional huge string (keeps a soak's traffic sane). */
  readonly #hugeChars: number;
  readonly #kinds = new Map<string, number>();

  constructor(rng: Rng, options: { readonly hugeChars?: number } = {}) {
    this.#rng = rng;
    this.#hugeChars = options.hugeChars ?? 1_000_000;
  }

  /** How many frames of each kind were made. */
  get kinds(): ReadonlyMap<string, number> {
    return this.#kinds;
  }

  next(): FuzzFrame {
    const rng = this.#rng;
    const frame = rng.weighted<() => FuzzFrame>([
      [30, () => this.#text("valid", JSON.stringify(this.validEvent()))],
      [25, () => this.#text("mutated", JSON.stringify(this.#mutate(this.validEvent())))],
      [8, () => this.#text("truncated", this.#truncated())],
      [6, () => this.#text("garbled", this.#garbled())],
      [5, () => this.#text("not-an-event", JSON.stringify(this.randomValue(2)))],
      [5, () => this.#text("unknown-type", JSON.stringify({ type: this.#randomType(), event_id: "x" }))],
      [5, () => this.#text("bad-base64", this.#badAudio())],
      [3, () => this.#text("random-text", rng.bytes(rng.range(0, 300)).toString("utf8"))],
      [3, () => ({ kind: "binary", data: rng.bytes(rng.range(0, 2000)), binary: true })],
      [2, () => this.#text("deep-nesting", this.#deepNesting())],
      [1, () => this.#text("huge-string", this.#hugeEvent())],
    ])();
    this.#kinds.set(frame.kind, (this.#kinds.get(frame.kind) ?? 0) + 1);
    return frame;
  }

  /** A well-formed event of a random type, ids from the small pools. */
  validEvent(type: ServerEventType = this.#rng.pick(EVENT_TYPES)): JsonObject {
    const rng = this.#rng;
    const responseId = rng.pick(RESPONSE_IDS);
    const itemId = rng.pick(ITEM_IDS);
    const scoped = { response_id: responseId, item_id: itemId, output_index: 0, content_index: 0 };
    const base: JsonObject = { type, event_id: `srv_${rng.int(1_000_000)}` };
    switch (type) {
      case "error":
        return {
          ...base,
          error: {
            type: rng.pick(["invalid_request_error", "server_error", "rate_limit_error"]),
            code: rng.pick([
              "response_cancel_not_active",
              "invalid_value",
              "conversation_already_has_active_response",
            ]),
            message: this.#shortText(),
            ...(rng.chance(0.5) ? { event_id: `evt_${rng.int(50)}` } : {}),
          },
        };
      case "warning":
        return { ...base, warning: { message: this.#shortText(), code: "w" } };
      case "session.created":
      case "session.updated":
        return {
          ...base,
          session: {
            id: `sess_${rng.int(10)}`,
            model: "gpt-realtime",
            voice: rng.chance(0.5) ? "alloy" : { type: "azure-standard", name: "en-US-AvaNeural" },
            modalities: ["audio", "text"],
            input_audio_sampling_rate: rng.pick([16_000, 24_000]),
            turn_detection: { type: "server_vad" },
          },
        };
      case "input_audio_buffer.speech_started":
        return { ...base, audio_start_ms: rng.int(100_000), item_id: itemId };
      case "input_audio_buffer.speech_stopped":
        return { ...base, audio_end_ms: rng.int(100_000), item_id: itemId };
      case "input_audio_buffer.committed":
        return { ...base, previous_item_id: rng.pick(ITEM_IDS), item_id: itemId };
      case "input_audio_buffer.cleared":
        return base;
      case "conversation.item.created":
      case "conversation.item.retrieved":
        return { ...base, item: this.#item(itemId) };
      case "conversation.item.truncated":
        return { ...base, item_id: itemId, content_index: 0, audio_end_ms: rng.int(10_000) };
      case "conversation.item.deleted":
        return { ...base, item_id: itemId };
      case "conversation.item.input_audio_transcription.delta":
        return { ...base, item_id: itemId, content_index: 0, delta: this.#shortText() };
      case "conversation.item.input_audio_transcription.completed":
        return { ...base, item_id: itemId, content_index: 0, transcript: this.#shortText() };
      case "conversation.item.input_audio_transcription.failed":
        return { ...base, item_id: itemId, content_index: 0, error: { message: this.#shortText() } };
      case "response.created":
      case "response.done":
        return {
          ...base,
          response: {
            id: responseId,
            status: rng.pick(STATUSES.slice(0, 6)),
            output: rng.chance(0.5) ? [this.#item(itemId)] : [],
            ...(rng.chance(0.5)
              ? {
                  usage: {
                    total_tokens: rng.int(5000),
                    input_tokens: rng.int(3000),
                    output_tokens: rng.int(2000),
                  },
                }
              : {}),
          },
        };
      case "response.output_item.added":
      case "response.output_item.done":
        return { ...base, response_id: responseId, output_index: 0, item: this.#item(itemId, "assistant") };
      case "response.content_part.added":
      case "response.content_part.done":
        return { ...base, ...scoped, part: { type: "audio", transcript: this.#shortText() } };
      case "response.audio.delta":
        return { ...base, ...scoped, delta: pcmBase64(rng, rng.pick([0, 1, 10, 20, 40, 100, 250])) };
      case "response.audio.done":
        return { ...base, ...scoped };
      case "response.audio_transcript.delta":
      case "response.text.delta":
        return { ...base, ...scoped, delta: this.#shortText() };
      case "response.audio_transcript.done":
        return { ...base, ...scoped, transcript: this.#shortText() };
      case "response.audio_timestamp.delta":
        return {
          ...base,
          ...scoped,
          audio_offset_ms: this.#rng.range(0, 10_000),
          audio_duration_ms: this.#rng.range(0, 2_000),
          text: this.#shortText(),
          timestamp_type: "word",
        };
      case "response.text.done":
        return { ...base, ...scoped, text: this.#shortText() };
      case "response.function_call_arguments.delta":
        return {
          ...base,
          response_id: responseId,
          item_id: itemId,
          output_index: 0,
          call_id: "call_1",
          delta: "{",
        };
      case "response.function_call_arguments.done":
        return {
          ...base,
          response_id: responseId,
          item_id: itemId,
          output_index: 0,
          call_id: "call_1",
          name: "f",
          arguments: "{}",
        };
      case "rate_limits.updated":
        return {
          ...base,
          rate_limits: [{ name: "requests", limit: 100, remaining: rng.int(100), reset_seconds: 1.5 }],
        };
    }
  }

  /** Any JSON value, nested up to `depth`. */
  randomValue(depth: number): Json {
    const rng = this.#rng;
    const roll = rng.int(depth > 0 ? 14 : 11);
    switch (roll) {
      case 0:
        return null;
      case 1:
        return rng.chance(0.5);
      case 2:
        return rng.int(1000) - 500;
      case 3:
        return rng.pick([1e308, -1e308, 5e-324, -0, 2 ** 53 + 1, 0.1]);
      case 4:
        return rng.pick(TRICKY_STRINGS);
      case 5:
        return this.#shortText();
      case 6:
        return rng.pick(RESPONSE_IDS);
      case 7:
        return rng.pick(ITEM_IDS);
      case 8:
        return rng.pick(EVENT_TYPES);
      case 9:
        return "x".repeat(rng.range(1_000, 20_000));
      case 10:
        return rng.pick(BAD_BASE64);
      case 11:
        return Array.from({ length: rng.range(0, 5) }, () => this.randomValue(depth - 1));
      default: {
        const out: JsonObject = {};
        for (let i = rng.range(0, 5); i > 0; i--) out[this.#randomKey()] = this.randomValue(depth - 1);
        return out;
      }
    }
  }

  #text(kind: string, data: string): FuzzFrame {
    return { kind, data, binary: false };
  }

  #item(itemId: string, role?: string): JsonObject {
    const rng = this.#rng;
    return rng.weighted<JsonObject>([
      [
        6,
        {
          type: "message",
          id: itemId,
          role: role ?? rng.pick(["user", "assistant", "system"]),
          status: "completed",
          content: [{ type: "audio", transcript: this.#shortText() }],
        },
      ],
      [1, { type: "function_call", id: itemId, name: "f", call_id: "c", arguments: "{}" }],
      [1, { type: "function_call_output", id: itemId, call_id: "c", output: "ok" }],
      [1, { type: "mcp_call", id: itemId }],
    ]);
  }

  #shortText(): string {
    const rng = this.#rng;
    return rng.chance(0.2)
      ? rng.pick(TRICKY_STRINGS)
      : rng.pick(["hello", "the weather today", "sure!", "…", "api-key=notakey", "a b c"]);
  }

  #randomKey(): string {
    return this.#rng.pick([...TRICKY_STRINGS, "type", "response", "item", "delta", "session", "error"]);
  }

  #randomType(): string {
    const rng = this.#rng;
    return rng.weighted<string>([
      [3, `${rng.pick(EVENT_TYPES)}.${rng.pick(["x", "", "delta"])}`],
      [2, rng.pick(TRICKY_STRINGS)],
      [1, "x".repeat(rng.range(100, 10_000))],
      [1, rng.pick(["response.audio.delta ", "RESPONSE.DONE", "session.created\u0000"])],
    ]);
  }

  /** Deletes, retypes or adds fields, anywhere in the event. */
  #mutate(event: JsonObject): JsonObject {
    const rng = this.#rng;
    for (let n = rng.range(1, 3); n > 0; n--) {
      const target = this.#randomObjectIn(event);
      const keys = Object.keys(target);
      const op = rng.int(keys.length === 0 ? 1 : 4);
      if (op === 0) target[this.#randomKey()] = this.randomValue(2);
      else if (op === 1) delete target[rng.pick(keys)];
      else target[rng.pick(keys)] = this.randomValue(2);
    }
    return event;
  }

  #randomObjectIn(root: JsonObject): JsonObject {
    const rng = this.#rng;
    let current = root;
    for (let depth = 0; depth < 4 && rng.chance(0.5); depth++) {
      const children = Object.values(current).flatMap((value): JsonObject[] => {
        if (Array.isArray(value))
          return value.filter(
            (v): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v),
          );
        return typeof value === "object" && value !== null ? [value] : [];
      });
      if (children.length === 0) break;
      current = rng.pick(children);
    }
    return current;
  }

  #truncated(): string {
    const text = JSON.stringify(this.validEvent());
    return text.slice(0, this.#rng.int(text.length));
  }

  #garbled(): string {
    const rng = this.#rng;
    const chars = [...JSON.stringify(this.validEvent())];
    for (let n = rng.range(1, 8); n > 0; n--) {
      const at = rng.int(chars.length);
      chars[at] = rng.pick([
        '"',
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\\",
        "\u0000",
        "é",
        "\ud83d",
        String.fromCharCode(rng.int(128)),
      ]);
    }
    return chars.join("");
  }

  #badAudio(): string {
    const rng = this.#rng;
    const event = this.validEvent("response.audio.delta");
    event.delta = rng.weighted<string>([
      [3, rng.pick(BAD_BASE64)],
      [2, `${pcmBase64(rng, 20)}${rng.pick(BAD_BASE64)}`],
      [1, Buffer.from(rng.bytes(rng.range(1, 99) * 2 + 1)).toString("base64")],
      [1, "A".repeat(rng.range(1, 5) * 4 - 1)],
    ]);
    return JSON.stringify(event);
  }

  #deepNesting(): string {
    const rng = this.#rng;
    const depth = rng.pick([100, 1_000, 10_000, 100_000]);
    const open = rng.chance(0.5) ? "[" : '{"a":';
    const close = open === "[" ? "]" : "}";
    const inner = `${open.repeat(depth)}1${close.repeat(depth)}`;
    return rng.chance(0.5) ? inner : `{"type":"response.done","response":${inner}}`;
  }

  #hugeEvent(): string {
    const rng = this.#rng;
    const huge = "y".repeat(rng.range(100_000, this.#hugeChars));
    const event = this.validEvent(
      rng.pick([
        "response.audio_transcript.delta",
        "error",
        "conversation.item.input_audio_transcription.completed",
      ] as const),
    );
    const field = rng.pick(["delta", "transcript", "item_id", "response_id", "type", "event_id"]);
    event[field] = huge;
    return JSON.stringify(event);
  }
}

export const EVENT_TYPES: readonly ServerEventType[] = [
  "error",
  "warning",
  "session.created",
  "session.updated",
  "input_audio_buffer.speech_started",
  "input_audio_buffer.speech_stopped",
  "input_audio_buffer.committed",
  "input_audio_buffer.cleared",
  "conversation.item.created",
  "conversation.item.retrieved",
  "conversation.item.truncated",
  "conversation.item.deleted",
  "conversation.item.input_audio_transcription.delta",
  "conversation.item.input_audio_transcription.completed",
  "conversation.item.input_audio_transcription.failed",
  "response.created",
  "response.done",
  "response.output_item.added",
  "response.output_item.done",
  "response.content_part.added",
  "response.content_part.done",
  "response.audio.delta",
  "response.audio.done",
  "response.audio_transcript.delta",
  "response.audio_transcript.done",
  "response.text.delta",
  "response.text.done",
  "response.function_call_arguments.delta",
  "response.function_call_arguments.done",
  "rate_limits.updated",
];
