/**
 * The local server's session configuration: the effective defaults `session.created` reports, and
 * `session.update` as a validated partial merge. Validation is all-or-nothing: an invalid field
 * leaves the session exactly as it was and names the offending `param`.
 */

import { defaultPrefixPaddingMs } from "../voicelive/capabilities.ts";
import type {
  InputAudioFormat,
  Modality,
  OutputAudioFormat,
  SessionInfo,
  TurnDetection,
  Voice,
} from "../voicelive/protocol.ts";
import { capabilityProblem } from "./capability-check.ts";
import { isNumberIn, isObject, isStringArray, isWholeNumber } from "./json.ts";
import type { InvalidParam, SessionOrigin } from "./session-types.ts";
import type { VadSettings } from "./vad.ts";

export type SessionUpdateResult = { readonly session: SessionInfo } | { readonly invalid: InvalidParam };

const INPUT_FORMATS: readonly InputAudioFormat[] = ["pcm16", "g711_ulaw", "g711_alaw"];
const OUTPUT_FORMATS: readonly OutputAudioFormat[] = [
  "pcm16",
  "pcm16_16000hz",
  "pcm16_8000hz",
  "g711_ulaw",
  "g711_alaw",
];
const PCM16_INPUT_RATES = [24000, 16000];
const TURN_DETECTION_TYPES = [
  "server_vad",
  "azure_semantic_vad",
  "azure_semantic_vad_en",
  "azure_semantic_vad_multilingual",
  "semantic_vad",
] as const;
const VOICE_TYPES = ["openai", "azure-standard", "azure-custom", "azure-personal", "azure-realtime-native"];
const EAGERNESS = ["auto", "low", "medium", "high"];
const TOOL_CHOICES = ["auto", "none", "required"];
/** Upper bound for every *_ms setting; the service documents none, this only rejects nonsense. */
const MAX_SETTING_MS = 60_000;

/**
 * Defaults filled in for a `turn_detection` of the given type. `create_response` and
 * `interrupt_response` follow the docs (true), not the 2025-10-01 swagger (false).
 */
function turnDetectionDefaults(type: TurnDetection["type"], apiVersion: string): TurnDetection {
  const common = { create_response: true, interrupt_response: true, auto_truncate: false };
  if (type === "semantic_vad") return { type, eagerness: "auto", ...common };
  return {
    type,
    threshold: 0.5,
    prefix_padding_ms: defaultPrefixPaddingMs(type, apiVersion),
    silence_duration_ms: 500,
    speech_duration_ms: type === "server_vad" ? 200 : 80,
    ...common,
  };
}

export function createDefaultSession(origin: SessionOrigin): SessionInfo {
  return {
    id: origin.id,
    object: "realtime.session",
    ...(origin.model !== undefined ? { model: origin.model } : {}),
    ...(origin.agentName !== undefined
      ? {
          agent: {
            type: "agent",
            name: origin.agentName,
            agent_id: origin.agentName,
            thread_id: `thread_${origin.id}`,
          },
        }
      : {}),
    modalities: ["text", "audio"],
    instructions: "",
    voice: { type: "azure-standard", name: "en-US-Ava:DragonHDLatestNeural" },
    input_audio_format: "pcm16",
    input_audio_sampling_rate: 24000,
    output_audio_format: "pcm16",
    turn_detection: turnDetectionDefaults("server_vad", origin.apiVersion),
    input_audio_noise_reduction: null,
    input_audio_echo_cancellation: null,
    input_audio_transcription: null,
    tools: [],
    tool_choice: "auto",
    // An agent's temperature is its own [capabilities.ts, agent family]: not reported as settable.
    ...(origin.model === undefined ? {} : { temperature: 0.8 }),
    max_response_output_tokens: "inf",
  };
}

/** Applies a `session.update` patch; `null` disables the optional features, nested objects replace. */
export function applySessionUpdate(
  current: SessionInfo,
  patch: unknown,
  origin: SessionOrigin,
): SessionUpdateResult {
  if (!isObject(patch)) return invalid("session", "session must be an object");
  // What the model, mode and API version may have first, as the capability table says.
  const refused = capabilityProblem(patch, origin);
  if (refused !== undefined) return { invalid: refused };
  const next: Record<string, unknown> = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    const problem = applyField(next, key, value, current, origin);
    if (problem !== undefined) return { invalid: problem };
  }
  if (
    next.input_audio_format === "pcm16" &&
    !PCM16_INPUT_RATES.includes(next.input_audio_sampling_rate as number)
  ) {
    return invalid("session.input_audio_sampling_rate", "pcm16 input must be sampled at 24000 or 16000 Hz");
  }
  return { session: next as SessionInfo };
}

function invalid(param: string, message: string): { invalid: InvalidParam } {
  return { invalid: { param, message } };
}

function problem(param: string, message: string): InvalidParam {
  return { param: `session.${param}`, message };
}

function applyField(
  next: Record<string, unknown>,
  key: string,
  value: unknown,
  current: SessionInfo,
  origin: SessionOrigin,
): InvalidParam | undefined {
  switch (key) {
    case "model":
      if (value !== current.model) return problem(key, "the model cannot change during a session");
      return undefined;
    case "modalities":
      if (
        !isStringArray(value) ||
        !value.every((m) => m === "text" || m === "audio") ||
        !value.includes("text")
      ) {
        return problem(
          key,
          'modalities must be ["text"] or ["text", "audio"] (avatar and animation are not available locally)',
        );
      }
      next[key] = [...new Set(value as Modality[])];
      return undefined;
    case "instructions":
      if (origin.agentName !== undefined) {
        return problem(key, "instructions cannot be set in agent mode: the agent's own apply");
      }
      if (typeof value !== "string") return problem(key, "instructions must be a string");
      next[key] = value;
      return undefined;
    case "voice":
      return applyVoice(next, value);
    case "input_audio_format":
      if (!INPUT_FORMATS.includes(value as InputAudioFormat))
        return problem(key, `must be one of ${INPUT_FORMATS.join(", ")}`);
      next[key] = value;
      return undefined;
    case "input_audio_sampling_rate":
      if (!isWholeNumber(value, 8000, 48000))
        return problem(key, "must be a sample rate in Hz (24000 or 16000 for pcm16)");
      next[key] = value;
      return undefined;
    case "output_audio_format":
      if (!OUTPUT_FORMATS.includes(value as OutputAudioFormat))
        return problem(key, `must be one of ${OUTPUT_FORMATS.join(", ")}`);
      next[key] = value;
      return undefined;
    case "turn_detection":
      return applyTurnDetection(next, value, origin.apiVersion);
    case "input_audio_noise_reduction":
    case "input_audio_echo_cancellation":
      if (value !== null && !(isObject(value) && typeof value.type === "string")) {
        return problem(key, "must be null or an object with a type");
      }
      next[key] = value;
      return undefined;
    case "input_audio_transcription":
      if (value !== null && !(isObject(value) && typeof value.model === "string" && value.model !== "")) {
        return problem(`${key}.model`, "input_audio_transcription needs a model (or null to disable it)");
      }
      next[key] = value;
      return undefined;
    case "tools":
      if (!Array.isArray(value)) return problem(key, "tools must be an array");
      for (const [i, tool] of value.entries()) {
        if (!isObject(tool) || typeof tool.type !== "string")
          return problem(`${key}[${i}].type`, "each tool needs a type");
        if (tool.type === "function" && typeof tool.name !== "string") {
          return problem(`${key}[${i}].name`, "a function tool needs a name");
        }
      }
      next[key] = value;
      return undefined;
    case "tool_choice":
      if (!TOOL_CHOICES.includes(value as string) && !(isObject(value) && typeof value.name === "string")) {
        return problem(key, 'tool_choice must be "auto", "none", "required" or {type: "function", name}');
      }
      next[key] = value;
      return undefined;
    case "temperature":
      // The range itself is the capability table's (capability-check.ts); here only the type.
      if (!isNumberIn(value, 0, 2)) return problem(key, "temperature must be a number");
      next[key] = value;
      return undefined;
    case "max_response_output_tokens":
      if (value !== "inf" && !isWholeNumber(value, 1, 4096)) return problem(key, 'must be 1..4096 or "inf"');
      next[key] = value;
      return undefined;
    case "output_audio_timestamp_types":
      if (!Array.isArray(value) || value.some((kind) => kind !== "word")) {
        return problem(key, 'the only timestamp kind is "word"');
      }
      next[key] = value;
      return undefined;
    default:
      // Fields this server does not model (avatar, animation, metadata, ...) are accepted and ignored.
      return undefined;
  }
}

function applyVoice(next: Record<string, unknown>, value: unknown): InvalidParam | undefined {
  if (typeof value === "string" && value !== "") {
    next.voice = value;
    return undefined;
  }
  if (!isObject(value) || !VOICE_TYPES.includes(value.type as string)) {
    return problem(
      "voice.type",
      `voice must be a name or an object whose type is one of ${VOICE_TYPES.join(", ")}`,
    );
  }
  if (typeof value.name !== "string" || value.name === "") return problem("voice.name", "voice needs a name");
  if (value.type === "azure-custom" && typeof value.endpoint_id !== "string") {
    return problem("voice.endpoint_id", "an azure-custom voice needs an endpoint_id");
  }
  if (value.type === "azure-personal" && typeof value.model !== "string") {
    return problem("voice.model", "an azure-personal voice needs a model");
  }
  next.voice = value as unknown as Voice;
  return undefined;
}

function applyTurnDetection(
  next: Record<string, unknown>,
  value: unknown,
  apiVersion: string,
): InvalidParam | undefined {
  if (value === null) {
    next.turn_detection = null;
    return undefined;
  }
  if (!isObject(value)) return problem("turn_detection", "turn_detection must be an object or null");
  const type = value.type ?? "server_vad";
  if (!TURN_DETECTION_TYPES.includes(type as TurnDetection["type"])) {
    return problem("turn_detection.type", `must be one of ${TURN_DETECTION_TYPES.join(", ")}`);
  }
  const merged: Record<string, unknown> = {
    ...turnDetectionDefaults(type as TurnDetection["type"], apiVersion),
  };
  for (const [key, field] of Object.entries(value)) {
    const bad = checkTurnDetectionField(type as TurnDetection["type"], key, field);
    if (bad !== undefined) return problem(`turn_detection.${key}`, bad);
    merged[key] = field;
  }
  next.turn_detection = merged;
  return undefined;
}

/** Returns why a turn_detection field is invalid, or undefined when it is fine (or not modelled). */
function checkTurnDetectionField(
  type: TurnDetection["type"],
  key: string,
  value: unknown,
): string | undefined {
  const semantic = type === "semantic_vad";
  switch (key) {
    case "type":
      return undefined;
    case "threshold":
      if (semantic) return "semantic_vad has no threshold";
      return isNumberIn(value, 0, 1) ? undefined : "threshold must be a number from 0 to 1";
    case "prefix_padding_ms":
    case "silence_duration_ms":
    case "speech_duration_ms":
      if (semantic) return `semantic_vad has no ${key}`;
      return isWholeNumber(value, 0, MAX_SETTING_MS)
        ? undefined
        : `${key} must be a whole number from 0 to ${MAX_SETTING_MS}`;
    case "create_response":
    case "interrupt_response":
    case "auto_truncate":
    case "remove_filler_words":
      return typeof value === "boolean" ? undefined : `${key} must be true or false`;
    case "eagerness":
      return semantic && EAGERNESS.includes(value as string)
        ? undefined
        : `eagerness must be one of ${EAGERNESS.join(", ")} (semantic_vad only)`;
    case "languages":
      return isStringArray(value) ? undefined : "languages must be an array of strings";
    case "end_of_utterance_detection":
      return value === null || (isObject(value) && typeof value.model === "string")
        ? undefined
        : "end_of_utterance_detection must be null or an object with a model";
    case "appended_text_after_truncation":
      return typeof value === "string" ? undefined : `${key} must be a string`;
    default:
      return undefined;
  }
}

/** OpenAI's semantic VAD has no timing fields; its eagerness picks how long a pause ends a turn. */
const EAGERNESS_SILENCE_MS: Readonly<Record<string, number>> = {
  low: 1000,
  medium: 500,
  auto: 500,
  high: 250,
};

/**
 * What the energy VAD runs with for a turn_detection. Every type uses the same energy detector:
 * there is no semantic end-of-turn model offline.
 */
export function vadSettingsOf(turnDetection: TurnDetection): VadSettings {
  if (turnDetection.type === "semantic_vad") {
    return {
      threshold: 0.5,
      prefixPaddingMs: 300,
      silenceDurationMs: EAGERNESS_SILENCE_MS[turnDetection.eagerness ?? "auto"] ?? 500,
      speechDurationMs: 80,
    };
  }
  return {
    threshold: turnDetection.threshold ?? 0.5,
    prefixPaddingMs: turnDetection.prefix_padding_ms ?? 300,
    silenceDurationMs: turnDetection.silence_duration_ms ?? 500,
    speechDurationMs: turnDetection.speech_duration_ms ?? 200,
  };
}
