/**
 * The local server's model checks: a `session.update` (or `response.create` override) is refused
 * exactly where the capability table says Azure refuses it for the session's model, mode and API
 * version, so tests against this server catch what the real service would reject. Field shapes
 * are checked elsewhere (session-config.ts); this module only asks "may this model have it".
 */
import {
  capabilitiesFor,
  listed,
  type ResolvedCapabilities,
  type SessionTarget,
  type VoiceType,
} from "../voicelive/capabilities.ts";
import { isObject } from "./json.ts";
import type { InvalidParam, SessionOrigin } from "./session-types.ts";

const LANGUAGE_FORMS = {
  "iso-639-1": /^[a-z]{2}$/,
  "bcp-47-list": /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*(,[a-z]{2,3}(-[A-Za-z0-9]{2,8})*)*$/,
} as const;

export function targetOfOrigin(origin: SessionOrigin): SessionTarget {
  return { model: origin.model, apiVersion: origin.apiVersion, agentMode: origin.model === undefined };
}

type Check = (value: unknown, caps: ResolvedCapabilities) => InvalidParam | undefined;

function refuse(
  param: string,
  value: unknown,
  accepted: readonly string[],
  caps: ResolvedCapabilities,
): InvalidParam {
  return {
    param: `session.${param}`,
    message: `${String(value).slice(0, 40)} is not supported by ${caps.label}; supported: ${listed(accepted)}`,
  };
}

function typeOf(value: unknown): unknown {
  return isObject(value) ? value.type : undefined;
}

/** One check per top-level field; fields without an entry are not model-dependent. */
const CHECKS: Readonly<Record<string, Check>> = {
  voice(value, caps) {
    // A bare string is the legacy OpenAI voice name form.
    const type = typeof value === "string" ? "openai" : typeOf(value);
    if (typeof type === "string" && !caps.voiceTypes.includes(type as VoiceType)) {
      return refuse("voice.type", type, caps.voiceTypes, caps);
    }
    return undefined;
  },
  turn_detection(value, caps) {
    if (!isObject(value)) return undefined;
    const type = value.type ?? "server_vad";
    if (!caps.turnDetection.includes(type as never))
      return refuse("turn_detection.type", type, caps.turnDetection, caps);
    const eou = value.end_of_utterance_detection;
    if (isObject(eou) && typeof eou.model === "string" && !caps.endOfUtteranceModels.includes(eou.model)) {
      return refuse(
        "turn_detection.end_of_utterance_detection.model",
        eou.model,
        caps.endOfUtteranceModels,
        caps,
      );
    }
    return undefined;
  },
  input_audio_noise_reduction(value, caps) {
    const type = typeOf(value);
    return typeof type === "string" && !caps.noiseReduction.includes(type)
      ? refuse("input_audio_noise_reduction.type", type, caps.noiseReduction, caps)
      : undefined;
  },
  input_audio_echo_cancellation(value, caps) {
    const type = typeOf(value);
    return typeof type === "string" && !caps.echoCancellation.includes(type)
      ? refuse("input_audio_echo_cancellation.type", type, caps.echoCancellation, caps)
      : undefined;
  },
  input_audio_transcription(value, caps) {
    if (!isObject(value) || typeof value.model !== "string") return undefined;
    const model = caps.transcriptionModels.find((m) => m.name === value.model);
    if (model === undefined) {
      return refuse(
        "input_audio_transcription.model",
        value.model,
        caps.transcriptionModels.map((m) => m.name),
        caps,
      );
    }
    if (typeof value.language === "string" && !LANGUAGE_FORMS[model.languageForm].test(value.language)) {
      return {
        param: "session.input_audio_transcription.language",
        message: `${model.name} takes ${model.languageForm === "iso-639-1" ? "one ISO-639-1 code such as en" : "BCP-47 codes or a comma list"}`,
      };
    }
    return undefined;
  },
  temperature(value, caps) {
    const range = caps.temperature;
    if (range === undefined || typeof value !== "number") return undefined;
    return value >= range.min && value <= range.max
      ? undefined
      : { param: "session.temperature", message: `temperature must be from ${range.min} to ${range.max}` };
  },
};

/** The first field of `patch` the target's model may not have, or undefined. */
export function capabilityProblem(
  patch: Readonly<Record<string, unknown>>,
  origin: SessionOrigin,
): InvalidParam | undefined {
  const caps = capabilitiesFor(targetOfOrigin(origin));
  for (const [key, value] of Object.entries(patch)) {
    if (value === null || value === undefined) continue;
    if (caps.forbiddenFields.includes(key)) {
      return {
        param: `session.${key}`,
        message: `${key} cannot be set in agent mode: the agent's own ${key} applies`,
      };
    }
    const problem = CHECKS[key]?.(value, caps);
    if (problem !== undefined) return problem;
  }
  return undefined;
}
