import {
  capabilitiesFor,
  DEFAULT_TARGET,
  type LanguageForm,
  listed,
  type ResolvedCapabilities,
  type SessionTarget,
  type VoiceType,
} from "./capabilities.ts";
import type { AzureVoiceOptions, SessionConfig, TurnDetection, Voice } from "./protocol.ts";

/**
 * Checks any session configuration before it is sent: the service answers a bad one with an
 * `error` (and closes the socket after five), so every combination it is known to reject is caught
 * here with a message naming the wire field.
 */

export type SessionConfigResult =
  | { readonly ok: true; readonly config: SessionConfig }
  | { readonly ok: false; readonly problems: readonly string[] };

/** The target of options that name only the mode. */
export function targetOf(options: {
  readonly target?: SessionTarget;
  readonly agentMode?: boolean;
}): SessionTarget {
  if (options.target !== undefined) return options.target;
  return options.agentMode === true
    ? { ...DEFAULT_TARGET, model: undefined, agentMode: true }
    : DEFAULT_TARGET;
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

export const AGENT_INSTRUCTIONS_PROBLEM =
  "instructions: not allowed in agent mode (the service rejects them; the agent's own instructions apply)";

const MODALITIES: readonly string[] = ["text", "audio"];
const INPUT_FORMATS: readonly string[] = ["pcm16", "g711_ulaw", "g711_alaw"];
const OUTPUT_FORMATS: readonly string[] = [
  "pcm16",
  "pcm16_16000hz",
  "pcm16_8000hz",
  "g711_ulaw",
  "g711_alaw",
];
const PCM16_INPUT_RATES: readonly number[] = [24000, 16000];
const AZURE_VOICE_OPTION_FIELDS: readonly (keyof AzureVoiceOptions)[] = [
  "temperature",
  "rate",
  "style",
  "pitch",
  "volume",
  "locale",
  "prefer_locales",
  "custom_lexicon_url",
  "custom_text_normalization_url",
];
/** Fields OpenAI's `semantic_vad` does not take: it decides turn ends from meaning alone. */
const NOT_FOR_SEMANTIC_VAD = [
  "threshold",
  "prefix_padding_ms",
  "silence_duration_ms",
  "speech_duration_ms",
  "remove_filler_words",
  "languages",
  "end_of_utterance_detection",
  "appended_text_after_truncation",
] as const;
const LOCALE_PATTERN = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;
const LANGUAGE_PATTERNS: Readonly<Record<LanguageForm, { pattern: RegExp; example: string }>> = {
  "iso-639-1": { pattern: /^[a-z]{2}$/, example: "one ISO-639-1 code such as en" },
  "bcp-47-list": {
    pattern: /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*(,[a-z]{2,3}(-[A-Za-z0-9]{2,8})*)*$/,
    example: "a language code such as en or en-US, or a comma list",
  },
};
/** SSML prosody rate: a multiplier (how-to: 0.5 to 1.5), a relative percentage, or a named rate. */
const RATE_PATTERN = /^([+-]?\d{1,3}(\.\d+)?%|x-slow|slow|medium|fast|x-fast|default)$/;

export interface ValidationContext {
  /** Where the session goes; the checks follow its capabilities. Default: gpt-realtime, newest GA. */
  readonly target?: SessionTarget;
  /** Shorthand for an agent-mode target at the default version. */
  readonly agentMode?: boolean;
}

/**
 * Checks a (full or partial) session configuration against the capability table for its target;
 * every problem names the wire field and, for a model-dependent choice, what the target accepts.
 */
export function validateSessionConfig(
  config: SessionConfig,
  context: ValidationContext = {},
): SessionConfigResult {
  const caps = capabilitiesFor(targetOf(context));
  const problems: string[] = [];
  const problem = (text: string): void => {
    problems.push(text);
  };
  const unsupported = (field: string, value: string, accepted: readonly string[], tail = ""): void => {
    problem(`${field}: ${value} is not available with ${caps.label}; it accepts ${listed(accepted)}${tail}`);
  };

  for (const field of caps.forbiddenFields) {
    if ((config as Record<string, unknown>)[field] === undefined) continue;
    problem(
      field === "instructions"
        ? AGENT_INSTRUCTIONS_PROBLEM
        : `${field}: not sent in ${caps.family === "agent" ? "agent mode" : caps.label} (the agent's own ${field} applies)`,
    );
  }
  if (config.modalities !== undefined) {
    const m = config.modalities;
    if (m.length === 0 || m.some((x) => !MODALITIES.includes(x)) || new Set(m).size !== m.length) {
      problem(`modalities: must be ["text", "audio"] or ["text"] (got ${JSON.stringify(m).slice(0, 60)})`);
    } else if (!m.includes("text")) {
      problem('modalities: audio alone is not allowed; use ["text", "audio"]');
    }
  }
  if (config.voice !== undefined) validateVoice(config.voice, caps, problem, unsupported);

  const inputFormat = config.input_audio_format;
  if (inputFormat !== undefined && !INPUT_FORMATS.includes(inputFormat)) {
    problem(
      `input_audio_format: must be one of ${INPUT_FORMATS.join(", ")} (got ${String(inputFormat).slice(0, 30)})`,
    );
  }
  const rate = config.input_audio_sampling_rate;
  if (rate !== undefined) {
    if (inputFormat === "g711_ulaw" || inputFormat === "g711_alaw") {
      if (rate !== 8000) {
        problem(
          `input_audio_sampling_rate: ${inputFormat} is always 8000 Hz; leave the rate out (got ${rate})`,
        );
      }
    } else if (!PCM16_INPUT_RATES.includes(rate)) {
      problem(`input_audio_sampling_rate: pcm16 input must be 24000 or 16000 Hz (got ${rate})`);
    }
  }
  const outputFormat = config.output_audio_format;
  if (outputFormat !== undefined && !OUTPUT_FORMATS.includes(outputFormat)) {
    problem(
      `output_audio_format: must be one of ${OUTPUT_FORMATS.join(", ")} (got ${String(outputFormat).slice(0, 30)})`,
    );
  }

  if (config.turn_detection !== undefined && config.turn_detection !== null) {
    validateTurnDetection(config.turn_detection, caps, problem, unsupported);
  }
  const noise = config.input_audio_noise_reduction;
  if (noise !== undefined && noise !== null && !caps.noiseReduction.includes(noise.type)) {
    unsupported(
      "input_audio_noise_reduction.type",
      String(noise.type),
      caps.noiseReduction,
      ", or null for off",
    );
  }
  const echo = config.input_audio_echo_cancellation;
  if (echo !== undefined && echo !== null && !caps.echoCancellation.includes(echo.type)) {
    unsupported(
      "input_audio_echo_cancellation.type",
      String(echo.type),
      caps.echoCancellation,
      ", or null for off",
    );
  }
  const transcription = config.input_audio_transcription;
  if (transcription !== undefined && transcription !== null) {
    const names = caps.transcriptionModels.map((m) => m.name);
    const known = caps.transcriptionModels.find((m) => m.name === transcription.model);
    if (typeof transcription.model !== "string" || known === undefined) {
      unsupported(
        "input_audio_transcription.model",
        String(transcription.model).slice(0, 40),
        names,
        ", or null for no captions",
      );
    } else if (transcription.language !== undefined) {
      const form = LANGUAGE_PATTERNS[known.languageForm];
      if (!form.pattern.test(transcription.language)) {
        problem(
          `input_audio_transcription.language: ${known.name} takes ${form.example} (got "${transcription.language.slice(0, 20)}")`,
        );
      }
    }
  }
  const temperature = config.temperature;
  const range = caps.temperature;
  if (
    temperature !== undefined &&
    range !== undefined &&
    (!Number.isFinite(temperature) || temperature < range.min || temperature > range.max)
  ) {
    problem(`temperature: must be from ${range.min} to ${range.max} (got ${temperature})`);
  }
  const maxTokens = config.max_response_output_tokens;
  if (
    maxTokens !== undefined &&
    maxTokens !== "inf" &&
    !(Number.isInteger(maxTokens) && maxTokens >= 1 && maxTokens <= 4096)
  ) {
    problem(
      `max_response_output_tokens: must be a whole number from 1 to 4096, or "inf" (got ${String(maxTokens)})`,
    );
  }
  const timestamps = config.output_audio_timestamp_types;
  if (timestamps !== undefined) {
    if (timestamps.length !== 1 || timestamps[0] !== "word") {
      problem('output_audio_timestamp_types: the only kind is ["word"]');
    } else if (typeof config.voice === "object" && !config.voice.type.startsWith("azure-")) {
      // Word timestamps come from Azure text to speech [voicelive-protocol.md, session fields].
      problem("output_audio_timestamp_types: word timestamps need an Azure voice");
    }
  }
  return problems.length === 0 ? { ok: true, config } : { ok: false, problems };
}

type Unsupported = (field: string, value: string, accepted: readonly string[], tail?: string) => void;

function validateVoice(
  voice: Voice,
  caps: ResolvedCapabilities,
  problem: (text: string) => void,
  unsupported: Unsupported,
): void {
  if (typeof voice === "string") {
    // The legacy string form is an OpenAI voice name [D25 voice table].
    if (voice.trim() === "") problem("voice: must not be empty");
    else if (!caps.voiceTypes.includes("openai"))
      unsupported("voice", `the OpenAI voice ${voice}`, caps.voiceTypes, " voice types");
    return;
  }
  if (!caps.voiceTypes.includes(voice.type as VoiceType)) {
    unsupported("voice.type", String(voice.type).slice(0, 30), caps.voiceTypes);
    return;
  }
  if (typeof voice.name !== "string" || voice.name.trim() === "") problem("voice.name: must not be empty");
  if (voice.type === "openai" || voice.type === "azure-realtime-native") {
    const azureOnly = AZURE_VOICE_OPTION_FIELDS.filter(
      (field) => (voice as AzureVoiceOptions)[field] !== undefined,
    );
    if (azureOnly.length > 0)
      problem(`voice.${azureOnly[0]}: only Azure TTS voices take ${azureOnly.join(", ")}`);
    return;
  }
  if (voice.type === "azure-custom" && !/^[0-9a-fA-F-]{8,64}$/.test(voice.endpoint_id ?? "")) {
    problem("voice.endpoint_id: an azure-custom voice needs its deployment's endpoint id (a GUID)");
  }
  if (voice.type === "azure-personal" && (typeof voice.model !== "string" || voice.model === "")) {
    problem("voice.model: an azure-personal voice needs a model such as DragonLatestNeural");
  }
  const { temperature, rate, style, locale } = voice;
  if (temperature !== undefined && (!Number.isFinite(temperature) || temperature < 0 || temperature > 1)) {
    problem(`voice.temperature: must be from 0 to 1 (got ${temperature})`);
  }
  if (rate !== undefined) {
    const multiplier = Number(rate);
    const isMultiplier = /^\d+(\.\d+)?$/.test(rate) && multiplier >= 0.5 && multiplier <= 1.5;
    if (!isMultiplier && !RATE_PATTERN.test(rate)) {
      problem(
        `voice.rate: must be from 0.5 to 1.5, a percentage such as +20%, or slow/medium/fast (got "${rate.slice(0, 20)}")`,
      );
    }
  }
  if (style !== undefined && !/^[A-Za-z-]{1,40}$/.test(style)) {
    problem(`voice.style: must be a style name such as cheerful (got "${style.slice(0, 20)}")`);
  }
  if (locale !== undefined && !LOCALE_PATTERN.test(locale)) {
    problem(`voice.locale: must be a locale such as en-US (got "${locale.slice(0, 20)}")`);
  }
}

function validateTurnDetection(
  td: TurnDetection,
  caps: ResolvedCapabilities,
  problem: (text: string) => void,
  unsupported: Unsupported,
): void {
  if (!caps.turnDetection.includes(td.type)) {
    unsupported(
      "turn_detection.type",
      String(td.type).slice(0, 40),
      caps.turnDetection,
      ", or null for manual turns",
    );
    return;
  }
  if (td.type === "semantic_vad") {
    for (const field of NOT_FOR_SEMANTIC_VAD) {
      if ((td as unknown as Record<string, unknown>)[field] !== undefined) {
        problem(
          `turn_detection.${field}: semantic_vad does not take ${field}; use server_vad or azure_semantic_vad`,
        );
      }
    }
    return;
  }
  // The docs say both default to true, the 2025-10-01 swagger false: only an explicit value is safe.
  for (const field of ["create_response", "interrupt_response"] as const) {
    if (typeof td[field] !== "boolean") {
      problem(
        `turn_detection.${field}: must be set to true or false explicitly (the service's documented defaults disagree)`,
      );
    }
  }
  if ("eagerness" in td && td.eagerness !== undefined) {
    problem(`turn_detection.eagerness: only semantic_vad takes eagerness (type is ${td.type})`);
  }
  if (
    td.threshold !== undefined &&
    (!Number.isFinite(td.threshold) || td.threshold < 0 || td.threshold > 1)
  ) {
    problem(`turn_detection.threshold: must be from 0 to 1 (got ${td.threshold})`);
  }
  for (const field of ["prefix_padding_ms", "silence_duration_ms", "speech_duration_ms"] as const) {
    const value = td[field];
    if (value !== undefined && !(Number.isInteger(value) && value >= 0 && value <= 10_000)) {
      problem(
        `turn_detection.${field}: must be a whole number of milliseconds from 0 to 10000 (got ${value})`,
      );
    }
  }
  if (td.type === "server_vad") {
    for (const field of ["remove_filler_words", "languages", "appended_text_after_truncation"] as const) {
      if ((td as unknown as Record<string, unknown>)[field] !== undefined) {
        problem(`turn_detection.${field}: only azure_semantic_vad types take ${field} (type is server_vad)`);
      }
    }
  }
  const eou = td.end_of_utterance_detection;
  if (eou !== undefined) {
    if (!caps.endOfUtteranceModels.includes(eou.model)) {
      unsupported(
        "turn_detection.end_of_utterance_detection.model",
        String(eou.model).slice(0, 40),
        caps.endOfUtteranceModels,
      );
    }
    if (
      eou.threshold_level !== undefined &&
      !["low", "medium", "high", "default"].includes(eou.threshold_level)
    ) {
      problem(
        "turn_detection.end_of_utterance_detection.threshold_level: must be low, medium, high or default",
      );
    }
    if (
      eou.timeout_ms !== undefined &&
      !(Number.isInteger(eou.timeout_ms) && eou.timeout_ms > 0 && eou.timeout_ms <= 10_000)
    ) {
      problem(
        `turn_detection.end_of_utterance_detection.timeout_ms: must be from 1 to 10000 (got ${eou.timeout_ms})`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Changes between configurations
// ---------------------------------------------------------------------------------------------

export interface SessionConfigChange {
  /** Top-level fields whose value differs (including fields present in only one). */
  readonly changed: readonly (keyof SessionConfig)[];
  /** The partial `session.update` that applies the change to a running session. */
  readonly patch: SessionConfig;
  /** `none`: nothing to send; `live`: send `patch`; `restart`: needs a new session. */
  readonly apply: "none" | "live" | "restart";
  /** Why a restart is needed, for the log and the user. */
  readonly restartReason: string | undefined;
}

/**
 * Compares two full configurations. The voice cannot change once the session has produced audio
 * (the service keeps the first), so that change needs a new session.
 */
export function diffSessionConfig(
  previous: SessionConfig,
  next: SessionConfig,
  state: { readonly audioProduced: boolean },
): SessionConfigChange {
  const changed: (keyof SessionConfig)[] = [];
  const patch: Record<string, unknown> = {};
  const restartReasons: string[] = [];
  const keys = new Set([...Object.keys(previous), ...Object.keys(next)]) as Set<keyof SessionConfig>;
  for (const key of keys) {
    if (sameValue(previous[key], next[key])) continue;
    changed.push(key);
    const value = next[key];
    if (value !== undefined) {
      patch[key] = value;
    } else if (Object.hasOwn(RESET_VALUES, key)) {
      // An absent field is left as it was by the service's merge: reset it explicitly.
      patch[key] = RESET_VALUES[key];
    } else {
      restartReasons.push(`${key} cannot be unset on a running session`);
    }
  }
  if (changed.includes("voice") && state.audioProduced) {
    restartReasons.push("the voice cannot change after the session has spoken");
  }
  const restartReason = restartReasons.length > 0 ? restartReasons.join("; ") : undefined;
  return {
    changed,
    patch: patch as SessionConfig,
    apply: changed.length === 0 ? "none" : restartReason !== undefined ? "restart" : "live",
    restartReason,
  };
}

/** What a field's absence means, for fields the service lets a `session.update` reset. */
const RESET_VALUES: Partial<Record<keyof SessionConfig, unknown>> = {
  instructions: "",
  turn_detection: null,
  input_audio_noise_reduction: null,
  input_audio_echo_cancellation: null,
  input_audio_transcription: null,
  max_response_output_tokens: "inf",
  tools: [],
};

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const ka = Object.keys(ra).filter((k) => ra[k] !== undefined);
  const kb = Object.keys(rb).filter((k) => rb[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => sameValue(ra[k], rb[k]));
}
