/**
 * Validates the `item` of a `conversation.item.create` and turns it into the server's view of the
 * item (id, object, status; audio bytes replaced by null, as the service echoes them).
 */
import type { ContentPart, ConversationItem, MessageItem } from "../voicelive/protocol.ts";
import { isObject, type JsonObject } from "./json.ts";

export interface AcceptedItem {
  readonly item: ConversationItem;
  /** Base64 audio of the item's input_audio part, in the session's input format. */
  readonly audio: string | undefined;
}

export type ItemRequestResult =
  | AcceptedItem
  | { readonly invalid: { readonly param: string; readonly message: string } };

const ROLES = ["system", "user", "assistant"];
const PART_TYPES_BY_ROLE: Readonly<Record<string, readonly string[]>> = {
  system: ["input_text"],
  user: ["input_text", "input_audio"],
  assistant: ["text"],
};

function bad(param: string, message: string): ItemRequestResult {
  return { invalid: { param: `item.${param}`, message } };
}

export function acceptItem(raw: JsonObject, id: string): ItemRequestResult {
  const common = { id, object: "realtime.item" as const, status: "completed" as const };
  switch (raw.type) {
    case "message":
      return acceptMessage(raw, common);
    case "function_call":
      if (
        typeof raw.name !== "string" ||
        typeof raw.call_id !== "string" ||
        typeof raw.arguments !== "string"
      ) {
        return bad("type", "a function_call item needs string name, call_id and arguments");
      }
      return {
        item: {
          ...common,
          type: "function_call",
          name: raw.name,
          call_id: raw.call_id,
          arguments: raw.arguments,
        },
        audio: undefined,
      };
    case "function_call_output":
      if (typeof raw.call_id !== "string" || typeof raw.output !== "string") {
        return bad("type", "a function_call_output item needs string call_id and output");
      }
      return {
        item: { ...common, type: "function_call_output", call_id: raw.call_id, output: raw.output },
        audio: undefined,
      };
    default:
      return bad("type", "item.type must be message, function_call or function_call_output");
  }
}

function acceptMessage(
  raw: JsonObject,
  common: Pick<MessageItem, "id" | "object" | "status">,
): ItemRequestResult {
  const role = raw.role;
  if (typeof role !== "string" || !ROLES.includes(role))
    return bad("role", "role must be system, user or assistant");
  if (!Array.isArray(raw.content) || raw.content.length === 0)
    return bad("content", "content must be a non-empty array");
  const allowed = PART_TYPES_BY_ROLE[role]!;
  const content: ContentPart[] = [];
  let audio: string | undefined;
  for (const [i, part] of raw.content.entries()) {
    if (!isObject(part) || !allowed.includes(part.type as string)) {
      return bad(
        `content[${i}].type`,
        role === "assistant"
          ? "assistant items take text parts only: assistant audio cannot be created"
          : `${role} content parts must be ${allowed.join(" or ")}`,
      );
    }
    if (part.type === "input_audio") {
      if (typeof part.audio !== "string" || audio !== undefined) {
        return bad(`content[${i}].audio`, "one input_audio part with base64 audio is allowed");
      }
      audio = part.audio;
      content.push({
        type: "input_audio",
        audio: null,
        transcript: typeof part.transcript === "string" ? part.transcript : null,
      });
    } else if (typeof part.text !== "string") {
      return bad(`content[${i}].text`, "text must be a string");
    } else {
      content.push(
        part.type === "text" ? { type: "text", text: part.text } : { type: "input_text", text: part.text },
      );
    }
  }
  return { item: { ...common, type: "message", role: role as MessageItem["role"], content }, audio };
}

/** The text of a message's text parts, joined. */
export function messageText(item: MessageItem): string {
  return item.content
    .map((part) => (part.type === "input_text" || part.type === "text" ? part.text : ""))
    .filter((text) => text !== "")
    .join(" ");
}
