/**
 * Parses the client's text frames into typed client events, or says precisely what is wrong so the
 * session can answer with an `error` event and carry on.
 */
import type { ClientEvent, ClientEventType } from "../voicelive/protocol.ts";
import { isObject, isWholeNumber, type JsonObject } from "./json.ts";

export interface ClientEventProblem {
  readonly code: string;
  readonly message: string;
  readonly param?: string;
  /** The client's `event_id`, when the frame was readable enough to carry one. */
  readonly eventId?: string;
  readonly type?: string;
}

export type ParsedClientEvent = { readonly event: ClientEvent } | { readonly problem: ClientEventProblem };

/** Events the real service knows but this server does not implement. */
const UNSUPPORTED = new Set([
  "session.avatar.connect",
  "output_audio_buffer.clear",
  "input_text.delta",
  "input_text.done",
  "input_audio.turn.start",
  "input_audio.turn.append",
  "input_audio.turn.end",
  "input_audio.turn.cancel",
  "input_audio.clear",
  "mcp_approval_response",
]);

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

type FieldCheck = (event: JsonObject) => { param: string; message: string } | undefined;

const requireString =
  (field: string): FieldCheck =>
  (event) =>
    typeof event[field] === "string" && event[field] !== ""
      ? undefined
      : { param: field, message: `${field} must be a non-empty string` };

const optionalString =
  (field: string): FieldCheck =>
  (event) =>
    event[field] === undefined || event[field] === null || typeof event[field] === "string"
      ? undefined
      : { param: field, message: `${field} must be a string` };

const requireObject =
  (field: string): FieldCheck =>
  (event) =>
    isObject(event[field]) ? undefined : { param: field, message: `${field} must be an object` };

const optionalObject =
  (field: string): FieldCheck =>
  (event) =>
    event[field] === undefined || event[field] === null || isObject(event[field])
      ? undefined
      : { param: field, message: `${field} must be an object` };

const requireWholeNumber =
  (field: string): FieldCheck =>
  (event) =>
    isWholeNumber(event[field], 0, Number.MAX_SAFE_INTEGER)
      ? undefined
      : { param: field, message: `${field} must be a whole number >= 0` };

const base64Audio: FieldCheck = (event) => {
  const audio = event.audio;
  return typeof audio === "string" && audio.length % 4 === 0 && BASE64.test(audio)
    ? undefined
    : { param: "audio", message: "audio must be base64-encoded audio in the session's input_audio_format" };
};

const CHECKS: Readonly<Record<ClientEventType, readonly FieldCheck[]>> = {
  "session.update": [requireObject("session")],
  "input_audio_buffer.append": [base64Audio],
  "input_audio_buffer.commit": [],
  "input_audio_buffer.clear": [],
  "response.create": [optionalObject("response"), optionalString("additional_instructions")],
  "response.cancel": [optionalString("response_id")],
  "conversation.item.create": [requireObject("item"), optionalString("previous_item_id")],
  "conversation.item.truncate": [
    requireString("item_id"),
    requireWholeNumber("content_index"),
    requireWholeNumber("audio_end_ms"),
  ],
  "conversation.item.delete": [requireString("item_id")],
  "conversation.item.retrieve": [requireString("item_id")],
};

function isKnownType(type: string): type is ClientEventType {
  return Object.hasOwn(CHECKS, type);
}

export function parseClientEvent(text: string): ParsedClientEvent {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return {
      problem: { code: "invalid_json", message: `The frame is not valid JSON: ${(error as Error).message}` },
    };
  }
  if (!isObject(json))
    return { problem: { code: "invalid_event", message: "A client event must be a JSON object" } };
  const eventId = typeof json.event_id === "string" ? json.event_id : undefined;
  const type = json.type;
  if (typeof type !== "string") {
    return {
      problem: {
        code: "invalid_event",
        message: "A client event needs a string type",
        param: "type",
        eventId,
      },
    };
  }
  if (!isKnownType(type)) {
    const message = UNSUPPORTED.has(type)
      ? `${type} is not supported by the local Voice Live server`
      : `Unknown client event type: ${type.slice(0, 100)}`;
    return {
      problem: {
        code: UNSUPPORTED.has(type) ? "unsupported_event" : "unknown_event",
        message,
        param: "type",
        eventId,
        type,
      },
    };
  }
  for (const check of CHECKS[type]) {
    const bad = check(json);
    if (bad !== undefined) {
      return {
        problem: {
          code: "invalid_value",
          message: `${type}: ${bad.message}`,
          param: bad.param,
          eventId,
          type,
        },
      };
    }
  }
  return { event: json as unknown as ClientEvent };
}
