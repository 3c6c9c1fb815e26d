/** Validates the `response` of a `response.create`: per-response overrides and scripted greetings. */
import type { MessageItem, ResponseCreateParams, SessionInfo } from "../voicelive/protocol.ts";
import { isObject } from "./json.ts";
import { applySessionUpdate } from "./session-config.ts";
import type { InvalidParam, SessionOrigin } from "./session-types.ts";

/** Says what is wrong with `params`, or undefined when a response can start with them. */
export function checkResponseParams(
  params: ResponseCreateParams,
  session: SessionInfo,
  origin: SessionOrigin,
): InvalidParam | undefined {
  if (!isObject(params)) return { param: "response", message: "response must be an object" };
  // Per-response overrides follow the rules of the session fields they override.
  const overrides: Record<string, unknown> = {
    modalities: params.modalities,
    instructions: params.instructions,
    voice: params.voice,
    output_audio_format: params.output_audio_format,
    temperature: params.temperature,
    max_response_output_tokens: params.max_output_tokens,
  };
  for (const key of Object.keys(overrides)) if (overrides[key] === undefined) delete overrides[key];
  const check = applySessionUpdate(session, overrides, origin);
  if ("invalid" in check) {
    return { param: check.invalid.param.replace(/^session\./, "response."), message: check.invalid.message };
  }
  const scripted = params.pre_generated_assistant_message;
  if (scripted !== undefined && !(isObject(scripted) && scriptedText(scripted) !== undefined)) {
    return {
      param: "response.pre_generated_assistant_message",
      message: "must be an assistant message with exactly one text part",
    };
  }
  return undefined;
}

/** The text of a pre-generated assistant message with exactly one text part, else undefined. */
export function scriptedText(message: object): string | undefined {
  const { role, content } = message as Partial<MessageItem>;
  if (role !== "assistant" || !Array.isArray(content) || content.length !== 1) return undefined;
  const part = content[0] as { type?: unknown; text?: unknown };
  return part.type === "text" && typeof part.text === "string" ? part.text : undefined;
}
