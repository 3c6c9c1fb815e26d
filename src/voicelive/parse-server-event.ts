import type { ServerEvent, ServerEventType } from "./protocol.ts";

/**
 * Validates a server frame against the fields the bot relies on. Rules: a required field of the
 * wrong type makes the event `invalid`; an optional field of the wrong type is removed and
 * reported as a warning (so a quirky `usage` never hides a `response.done`); unknown fields pass
 * through; unknown event types and unmodelled item kinds come back as `unknown`. Never throws.
 */
export type ParseResult =
  | { readonly kind: "event"; readonly event: ServerEvent; readonly warnings: readonly string[] }
  | { readonly kind: "unknown"; readonly type: string }
  /** A documented event the bot has no use for: skipped without a log line. */
  | { readonly kind: "ignored"; readonly type: string }
  | { readonly kind: "invalid"; readonly reason: string; readonly type: string | undefined };

interface Context {
  problem: string | undefined;
  unsupported: boolean;
  warnings: string[] | undefined;
}

interface Rule {
  readonly expected: string;
  /** Absent or null is accepted. */
  readonly optional: boolean;
  readonly normalize?: (value: unknown) => unknown;
  readonly test: (value: unknown, ctx: Context, path: string) => boolean;
}

type Shape = Readonly<Record<string, Rule>>;

const NO_WARNINGS: readonly string[] = Object.freeze([]);
const MAX_SHOWN = 80;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function shown(text: string): string {
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}…` : text;
}

function warn(ctx: Context, message: string): void {
  ctx.warnings ??= [];
  ctx.warnings.push(message);
}

function checkShape(record: Record<string, unknown>, shape: Shape, ctx: Context, path: string): boolean {
  for (const field in shape) {
    const rule = shape[field]!;
    const where = path === "" ? field : `${path}.${field}`;
    let value = record[field];
    if (value === undefined || value === null) {
      if (rule.optional) continue;
      ctx.problem ??= `${where} is missing`;
      return false;
    }
    if (rule.normalize !== undefined) {
      value = rule.normalize(value);
      record[field] = value;
    }
    if (rule.test(value, ctx, where)) continue;
    if (rule.optional) {
      delete record[field];
      warn(
        ctx,
        `${where} dropped: ${ctx.unsupported ? "unsupported kind" : (ctx.problem ?? `expected ${rule.expected}`)}`,
      );
      ctx.problem = undefined;
      ctx.unsupported = false;
      continue;
    }
    ctx.problem ??= `${where} must be ${rule.expected}`;
    return false;
  }
  return true;
}

const string: Rule = { expected: "a string", optional: false, test: (v) => typeof v === "string" };
const number: Rule = {
  expected: "a finite number",
  optional: false,
  test: (v) => typeof v === "number" && Number.isFinite(v),
};

function optional(rule: Rule): Rule {
  return { ...rule, optional: true };
}

function oneOf(values: readonly string[], normalize?: (value: unknown) => unknown): Rule {
  return {
    expected: `one of ${values.join(", ")}`,
    optional: false,
    normalize,
    test: (v) => typeof v === "string" && values.includes(v),
  };
}

function object(shape: Shape): Rule {
  return {
    expected: "an object",
    optional: false,
    test: (v, ctx, path) => isRecord(v) && checkShape(v, shape, ctx, path),
  };
}

/** Elements that fail are removed (and reported) rather than failing the whole array. */
function arrayOf(element: Rule): Rule {
  return {
    expected: "an array",
    optional: false,
    test: (v, ctx, path) => {
      if (!Array.isArray(v)) return false;
      let kept = 0;
      for (let i = 0; i < v.length; i++) {
        const inner: Context = { problem: undefined, unsupported: false, warnings: ctx.warnings };
        const ok = element.test(v[i], inner, `${path}[${i}]`);
        ctx.warnings = inner.warnings;
        if (ok) {
          v[kept++] = v[i];
        } else {
          const why = inner.unsupported
            ? "unsupported kind"
            : (inner.problem ?? `expected ${element.expected}`);
          warn(ctx, `${path}[${i}] dropped: ${why}`);
        }
      }
      v.length = kept;
      return true;
    },
  };
}

/** Discriminated on `type`; a kind not listed marks the context unsupported. */
function union(shapes: Readonly<Record<string, Shape>>, what: string): Rule {
  return {
    expected: `a known ${what}`,
    optional: false,
    test: (v, ctx, path) => {
      if (!isRecord(v) || typeof v.type !== "string") return false;
      const shape = shapes[v.type];
      if (shape === undefined) {
        ctx.unsupported = true;
        return false;
      }
      return checkShape(v, shape, ctx, path);
    },
  };
}

const contentPart = union(
  {
    input_text: { text: string },
    input_audio: { audio: optional(string), transcript: optional(string) },
    text: { text: string },
    audio: { audio: optional(string), transcript: optional(string) },
  },
  "content part",
);

const itemCommon: Shape = {
  id: optional(string),
  status: optional(oneOf(["in_progress", "completed", "incomplete"])),
};

const item = union(
  {
    message: { ...itemCommon, role: oneOf(["system", "user", "assistant"]), content: arrayOf(contentPart) },
    function_call: { ...itemCommon, name: string, call_id: string, arguments: string },
    function_call_output: { ...itemCommon, call_id: string, output: string },
  },
  "item",
);

const STATUSES = ["in_progress", "completed", "cancelled", "failed", "incomplete"];
const normalizeStatus = (value: unknown): unknown => (value === "canceled" ? "cancelled" : value);

const response = object({
  id: string,
  status: oneOf(STATUSES, normalizeStatus),
  status_details: optional(
    object({
      type: optional(oneOf(STATUSES, normalizeStatus)),
      reason: optional(string),
      error: optional(object({ type: optional(string), code: optional(string), message: optional(string) })),
    }),
  ),
  output: optional(arrayOf(item)),
  usage: optional(
    object({
      total_tokens: number,
      input_tokens: number,
      output_tokens: number,
      input_token_details: optional(
        object({
          cached_tokens: optional(number),
          text_tokens: optional(number),
          audio_tokens: optional(number),
        }),
      ),
      output_token_details: optional(
        object({ text_tokens: optional(number), audio_tokens: optional(number) }),
      ),
    }),
  ),
  conversation_id: optional(string),
});

const voice: Rule = {
  expected: "a voice name or voice object",
  optional: false,
  test: (v) => typeof v === "string" || (isRecord(v) && typeof v.type === "string"),
};

const session = object({
  id: optional(string),
  model: optional(string),
  modalities: optional(arrayOf(string)),
  instructions: optional(string),
  voice: optional(voice),
  input_audio_format: optional(string),
  output_audio_format: optional(string),
  input_audio_sampling_rate: optional(number),
  turn_detection: optional(object({ type: string })),
  temperature: optional(number),
  expires_at: optional(number),
});

const responseScoped: Shape = {
  response_id: string,
  item_id: string,
  output_index: number,
  content_index: number,
};

const EVENT_SHAPES: Readonly<Record<ServerEventType, Shape>> = {
  error: {
    error: object({
      type: string,
      message: string,
      code: optional(string),
      param: optional(string),
      event_id: optional(string),
    }),
  },
  warning: { warning: object({ message: string, code: optional(string), param: optional(string) }) },
  "session.created": { session },
  "session.updated": { session },
  "input_audio_buffer.speech_started": { audio_start_ms: number, item_id: string },
  "input_audio_buffer.speech_stopped": { audio_end_ms: number, item_id: string },
  "input_audio_buffer.committed": { previous_item_id: optional(string), item_id: string },
  "input_audio_buffer.cleared": {},
  // `item` is optional on these three in the 2025-10-01 spec (VoiceLive.json / events.tsp).
  "conversation.item.created": { previous_item_id: optional(string), item: optional(item) },
  "conversation.item.retrieved": { item },
  "conversation.item.truncated": { item_id: string, content_index: number, audio_end_ms: number },
  "conversation.item.deleted": { item_id: string },
  "conversation.item.input_audio_transcription.delta": {
    item_id: string,
    content_index: optional(number),
    delta: optional(string),
  },
  "conversation.item.input_audio_transcription.completed": {
    item_id: string,
    content_index: number,
    transcript: string,
  },
  "conversation.item.input_audio_transcription.failed": {
    item_id: string,
    content_index: number,
    error: object({
      message: string,
      type: optional(string),
      code: optional(string),
      param: optional(string),
    }),
  },
  "response.created": { response },
  "response.done": { response },
  "response.output_item.added": { response_id: string, output_index: number, item: optional(item) },
  "response.output_item.done": { response_id: string, output_index: number, item: optional(item) },
  "response.content_part.added": { ...responseScoped, part: contentPart },
  "response.content_part.done": { ...responseScoped, part: contentPart },
  "response.audio.delta": { ...responseScoped, delta: string },
  "response.audio.done": responseScoped,
  "response.audio_transcript.delta": { ...responseScoped, delta: string },
  "response.audio_transcript.done": { ...responseScoped, transcript: string },
  "response.audio_timestamp.delta": {
    ...responseScoped,
    audio_offset_ms: number,
    audio_duration_ms: number,
    text: string,
    timestamp_type: oneOf(["word"]),
  },
  "response.text.delta": { ...responseScoped, delta: string },
  "response.text.done": { ...responseScoped, text: string },
  "response.function_call_arguments.delta": {
    response_id: string,
    item_id: string,
    output_index: number,
    call_id: string,
    delta: string,
  },
  "response.function_call_arguments.done": {
    response_id: string,
    item_id: string,
    output_index: number,
    call_id: string,
    name: optional(string),
    arguments: string,
  },
  "rate_limits.updated": {
    // Documented in the 2025-10-01 reference text only, with no schema: every field is optional.
    rate_limits: optional(
      arrayOf(
        object({
          name: optional(string),
          limit: optional(number),
          remaining: optional(number),
          reset_seconds: optional(number),
        }),
      ),
    ),
  },
};

const COMMON: Shape = { event_id: optional(string) };

/**
 * Server events Microsoft documents that a Discord voice bot does not act on: the end of word
 * timestamps, avatar and animation output, MCP and agent tool progress [Learn voice-live-api-reference-2025-10-01
 * and -2026-07-15, "Server events"; SDK 1.1.0 KnownServerEventType]. They are expected traffic,
 * not anomalies, so they are skipped without even a debug line.
 */
const DOCUMENTED_UNHANDLED: ReadonlySet<string> = new Set([
  "response.audio_timestamp.done",
  "response.animation_viseme.delta",
  "response.animation_viseme.done",
  "response.animation_blendshapes.delta",
  "response.animation_blendshapes.done",
  "session.avatar.connecting",
  "session.avatar.switch_to_speaking",
  "session.avatar.switch_to_idle",
  "output_audio_buffer.cleared",
  "response.video.delta",
  "mcp_list_tools.in_progress",
  "mcp_list_tools.completed",
  "mcp_list_tools.failed",
  "response.mcp_call_arguments.delta",
  "response.mcp_call_arguments.done",
  "response.mcp_call.in_progress",
  "response.mcp_call.completed",
  "response.mcp_call.failed",
  "response.web_search_call.searching",
  "response.web_search_call.in_progress",
  "response.web_search_call.completed",
  "response.file_search_call.searching",
  "response.file_search_call.in_progress",
  "response.file_search_call.completed",
  "response.audio_transcript.annotation.added",
  "response.invocation.delta",
]);

export function parseServerEvent(text: string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: "invalid", reason: `not JSON (${text.length} characters)`, type: undefined };
  }
  if (!isRecord(value)) return { kind: "invalid", reason: "not a JSON object", type: undefined };
  const type = value.type;
  if (typeof type !== "string")
    return { kind: "invalid", reason: "type is missing or not a string", type: undefined };
  const shape = Object.hasOwn(EVENT_SHAPES, type) ? EVENT_SHAPES[type as ServerEventType] : undefined;
  if (shape === undefined) {
    return DOCUMENTED_UNHANDLED.has(type)
      ? { kind: "ignored", type }
      : { kind: "unknown", type: shown(type) };
  }
  const ctx: Context = { problem: undefined, unsupported: false, warnings: undefined };
  if (!checkShape(value, COMMON, ctx, "") || !checkShape(value, shape, ctx, "")) {
    if (ctx.unsupported) return { kind: "unknown", type };
    return { kind: "invalid", reason: `${type}: ${ctx.problem ?? "malformed"}`, type };
  }
  return { kind: "event", event: value as unknown as ServerEvent, warnings: ctx.warnings ?? NO_WARNINGS };
}
