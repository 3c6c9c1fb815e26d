/**
 * What Azure Voice Live accepts, per model family and API version, as data. The session builder,
 * the validator, `/persona set`, voice autocomplete, start-up checks and the local server all read
 * this one table, so a combination is either allowed everywhere or refused everywhere.
 *
 * Sources (tags used in the comments below):
 * - [D25]  Learn, "Voice Live API reference 2025-10-01":
 *          https://learn.microsoft.com/azure/ai-services/speech-service/voice-live-api-reference-2025-10-01
 * - [D26]  Learn, references 2026-04-10 / 2026-06-01-preview / 2026-07-15 (same path, other version).
 * - [HT]   Learn, "How to use the Voice Live API":
 *          https://learn.microsoft.com/azure/ai-services/speech-service/voice-live-how-to
 * - [AG]   Learn, "How to build a voice agent" and AgentSessionConfig (JS/.NET reference):
 *          https://learn.microsoft.com/azure/ai-services/speech-service/how-to-voice-agent-integration
 *          https://learn.microsoft.com/javascript/api/@azure/ai-voicelive/agentsessionconfig
 * - [SW]   Azure/azure-rest-api-specs specification/ai/data-plane/VoiceLive/stable/2025-10-01/VoiceLive.json
 *          (and stable/2026-04-10, stable/2026-07-15, preview/2026-01-01-preview, preview/2026-06-01-preview,
 *          stable/v1, v1/readme.md).
 * - [SDK]  @azure/ai-voicelive 1.1.0 dist/esm/models/models.d.ts and constants.js
 *          (DEFAULT_API_VERSION = "2026-07-15").
 * - [OV]   Learn, "Voice Live overview" (model list and pricing tiers):
 *          https://learn.microsoft.com/azure/ai-services/speech-service/voice-live
 */

export type ModelFamily = "gpt-realtime" | "azure-realtime" | "phi-realtime" | "cascaded" | "agent";
export type VoiceType =
  | "openai"
  | "azure-standard"
  | "azure-custom"
  | "azure-personal"
  | "azure-realtime-native";
export type TurnDetectionKind =
  | "server_vad"
  | "azure_semantic_vad"
  | "azure_semantic_vad_en"
  | "azure_semantic_vad_multilingual"
  | "semantic_vad";
/** `iso-639-1`: one two-letter code (`en`); `bcp-47-list`: `en`, `en-US` or a comma list (`en,zh`). */
export type LanguageForm = "iso-639-1" | "bcp-47-list";

/** Features that exist only from some API version on. */
export type VersionFeature =
  /** The `azure-realtime` model [D26 2026-01-01-preview "what's new"; protocol notes §1]. */
  | "azure-realtime-model"
  /** `azure-realtime-native` voices [D26 2026-06-01-preview lists them as new; SDK 1.1.0 models them]. */
  | "realtime-native-voices"
  /** `smart_end_of_turn_detection` end-of-utterance model [D26 2026-06-01-preview; not in SW 2025-10-01 enum]. */
  | "smart-end-of-turn"
  /** `prefix_padding_ms` defaults 400 (server_vad) / 420 (azure_semantic_vad*) [D26 2026-04-10]. */
  | "vad-padding-2026";

export interface ApiVersionInfo {
  readonly id: string;
  /** `ga` versions are frozen; `label` is `v1`, which speaks the OpenAI GA event shape. */
  readonly status: "preview" | "ga" | "label";
  /** `beta`: session.voice, response.audio.delta... (this bot); `ga`: session.audio.input/output [SW v1/readme.md]. */
  readonly schema: "beta" | "ga";
  readonly features: readonly VersionFeature[];
}

const UP_TO_2026_04: readonly VersionFeature[] = ["azure-realtime-model", "vad-padding-2026"];
const FROM_2026_06: readonly VersionFeature[] = [
  ...UP_TO_2026_04,
  "realtime-native-voices",
  "smart-end-of-turn",
];

/** Every version Microsoft documents, oldest first [SW file list; D25; D26; SDK constants.js]. */
export const API_VERSIONS: readonly ApiVersionInfo[] = [
  { id: "2025-05-01-preview", status: "preview", schema: "beta", features: [] },
  { id: "2025-10-01", status: "ga", schema: "beta", features: [] },
  { id: "2026-01-01-preview", status: "preview", schema: "beta", features: ["azure-realtime-model"] },
  { id: "2026-04-10", status: "ga", schema: "beta", features: UP_TO_2026_04 },
  { id: "2026-06-01-preview", status: "preview", schema: "beta", features: FROM_2026_06 },
  { id: "2026-07-15", status: "ga", schema: "beta", features: FROM_2026_06 },
  { id: "2026-07-31-preview", status: "preview", schema: "beta", features: FROM_2026_06 },
  // The label version: OpenAI GA-shaped events, header-only auth [SW stable/v1, v1/readme.md].
  { id: "v1", status: "label", schema: "ga", features: FROM_2026_06 },
];

/** The newest GA version the official SDK targets: @azure/ai-voicelive 1.1.0 DEFAULT_API_VERSION [SDK]. */
export const DEFAULT_API_VERSION = "2026-07-15";

const DATED_VERSION = /^\d{4}-\d{2}-\d{2}(-preview)?$/;

/**
 * The facts for an API version. A dated version newer than the table gets the newest earlier
 * entry's facts (a later version keeps what an earlier one added); one older than the table, or
 * not a version at all, is undefined.
 */
export function apiVersionInfo(id: string): ApiVersionInfo | undefined {
  const exact = API_VERSIONS.find((v) => v.id === id);
  if (exact !== undefined) return exact;
  if (!DATED_VERSION.test(id)) return undefined;
  let best: ApiVersionInfo | undefined;
  for (const v of API_VERSIONS) if (DATED_VERSION.test(v.id) && v.id <= id) best = v;
  return best === undefined ? undefined : { ...best, id };
}

export interface TranscriptionModelInfo {
  readonly name: string;
  readonly languageForm: LanguageForm;
}

export interface ModelCapabilities {
  readonly family: ModelFamily;
  /** How the family is recognised from `AZURE_VOICELIVE_MODEL`. */
  readonly pattern: RegExp;
  /** Models named in the docs, for README and tests. */
  readonly documentedModels: readonly string[];
  readonly voiceTypes: readonly VoiceType[];
  readonly turnDetection: readonly TurnDetectionKind[];
  readonly endOfUtteranceModels: readonly string[];
  readonly noiseReduction: readonly string[];
  readonly echoCancellation: readonly string[];
  readonly transcriptionModels: readonly TranscriptionModelInfo[];
  /** Picked for captions when nothing else is configured; must be in `transcriptionModels`. */
  readonly defaultTranscriptionModel: string;
  /** Session `temperature`; undefined means the field is not accepted at all. */
  readonly temperature: { readonly min: number; readonly max: number } | undefined;
  /** Top-level session fields this family may not send. */
  readonly forbiddenFields: readonly string[];
  /** The version a family needs, if any. */
  readonly requires: VersionFeature | undefined;
  /** What PERSONA_DEFAULT_VOICE means when unset. */
  readonly defaultVoice: string;
}

/** Azure TTS voice types every model can use (cascaded TTS) [D25 voice table; SDK KnownAzureVoiceType]. */
const AZURE_VOICE_TYPES: readonly VoiceType[] = ["azure-standard", "azure-custom", "azure-personal"];
/** The `azure_semantic_vad*` detectors "work with all models" [D25 turn_detection; HT]. */
const AZURE_TURN_DETECTION: readonly TurnDetectionKind[] = [
  "server_vad",
  "azure_semantic_vad",
  "azure_semantic_vad_en",
  "azure_semantic_vad_multilingual",
];
/** [SW 2025-10-01 EOU enum; SDK EouDetectionUnion]; smart_end_of_turn_detection is version-gated. */
const EOU_MODELS: readonly string[] = [
  "semantic_detection_v1",
  "semantic_detection_v1_en",
  "semantic_detection_v1_multilingual",
  "smart_end_of_turn_detection",
];
/** [D25 input_audio_echo_cancellation; SDK AudioEchoCancellation.type]. */
const ECHO: readonly string[] = ["server_echo_cancellation"];
/**
 * Azure Speech transcription: BCP-47, ISO-639-1 or a comma list for auto-detection
 * [D25 input_audio_transcription; SDK AudioInputTranscriptionOptions.language]. `mai-transcribe-1`
 * is the SDK's spelling of the preview MAI model [SDK].
 */
const AZURE_TRANSCRIPTION: readonly TranscriptionModelInfo[] = [
  { name: "azure-speech", languageForm: "bcp-47-list" },
  { name: "mai-transcribe-1", languageForm: "bcp-47-list" },
];
/** [D25]: "[0.6, 1.2], default 0.8"; SDK 1.1.0 ResponseCreateParams.temperature says the same. */
const TEMPERATURE = { min: 0.6, max: 1.2 } as const;
/** A standard (not HD) neural voice: HD voices exist only in some regions [D25 voice table]. */
const AZURE_DEFAULT_VOICE = "en-US-AvaMultilingualNeural";

/** Models that hear through Azure speech and speak through Azure TTS: the same options each. */
const AZURE_SPEECH_MODEL = {
  voiceTypes: AZURE_VOICE_TYPES,
  turnDetection: AZURE_TURN_DETECTION,
  endOfUtteranceModels: EOU_MODELS,
  noiseReduction: ["azure_deep_noise_suppression"],
  echoCancellation: ECHO,
  transcriptionModels: AZURE_TRANSCRIPTION,
  defaultTranscriptionModel: "azure-speech",
  temperature: TEMPERATURE,
  forbiddenFields: [],
  requires: undefined,
  defaultVoice: AZURE_DEFAULT_VOICE,
} as const satisfies Partial<ModelCapabilities>;

export const MODEL_CAPABILITIES: readonly ModelCapabilities[] = [
  {
    family: "gpt-realtime",
    pattern: /^gpt-(realtime|4o(-mini)?-realtime)([\w.-]*)$/,
    documentedModels: ["gpt-realtime", "gpt-realtime-mini", "gpt-realtime-1.5", "gpt-realtime-2.1"],
    // OpenAI voices are for gpt-realtime models [D25 voice table; issue 12 audit].
    voiceTypes: ["openai", ...AZURE_VOICE_TYPES],
    // semantic_vad: "only gpt-realtime / gpt-realtime-mini" [D25 turn_detection].
    turnDetection: [...AZURE_TURN_DETECTION, "semantic_vad"],
    endOfUtteranceModels: EOU_MODELS,
    // near_field / far_field: "only with gpt-realtime(-mini)" [D25 input_audio_noise_reduction].
    noiseReduction: ["azure_deep_noise_suppression", "near_field", "far_field"],
    echoCancellation: ECHO,
    // "only for gpt-realtime(-mini): whisper-1, gpt-4o-transcribe, gpt-4o-mini-transcribe,
    // gpt-4o-transcribe-diarize", each with a single ISO-639-1 hint [D25 input_audio_transcription].
    transcriptionModels: [
      { name: "gpt-4o-mini-transcribe", languageForm: "iso-639-1" },
      { name: "gpt-4o-transcribe", languageForm: "iso-639-1" },
      { name: "gpt-4o-transcribe-diarize", languageForm: "iso-639-1" },
      { name: "whisper-1", languageForm: "iso-639-1" },
    ],
    defaultTranscriptionModel: "gpt-4o-mini-transcribe",
    temperature: TEMPERATURE,
    forbiddenFields: [],
    requires: undefined,
    defaultVoice: "alloy",
  },
  {
    family: "azure-realtime",
    pattern: /^azure-realtime$/,
    documentedModels: ["azure-realtime"],
    // azure-realtime-native voices are "only valid when using the azure-realtime model" [SDK
    // AzureRealtimeNativeVoice]; from 2026-06-01-preview (see realtime-native-voices).
    ...AZURE_SPEECH_MODEL,
    voiceTypes: [...AZURE_VOICE_TYPES, "azure-realtime-native"],
    // The model itself arrived with 2026-01-01-preview [D26; protocol notes §1].
    requires: "azure-realtime-model",
  },
  {
    family: "phi-realtime",
    pattern: /^phi[\w.-]*-realtime$/,
    documentedModels: ["phi4-mm-realtime"],
    // Takes audio natively but speaks through Azure TTS [OV].
    ...AZURE_SPEECH_MODEL,
  },
  {
    family: "cascaded",
    // Text models behind Azure speech-to-text and text-to-speech [OV]. Also the fallback for a
    // model name this table does not know: it allows only what every model accepts.
    pattern: /^(gpt-4o(-mini)?|gpt-4\.1(-mini|-nano)?|gpt-5[\w.-]*)$/,
    documentedModels: [
      "gpt-4o",
      "gpt-4o-mini",
      "gpt-4.1",
      "gpt-4.1-mini",
      "gpt-4.1-nano",
      "gpt-5",
      "gpt-5-mini",
    ],
    // azure-speech "is auto-active for non-multimodal models" [D25].
    ...AZURE_SPEECH_MODEL,
  },
  {
    family: "agent",
    // Agent mode: the Foundry agent (a text agent behind Azure speech) owns "tools, instructions,
    // temperature, etc." [AG AgentSessionConfig]; instructions are rejected [HT]. The model is the
    // agent's, so only what every model accepts is allowed for speech settings.
    pattern: /^$/,
    documentedModels: [],
    ...AZURE_SPEECH_MODEL,
    temperature: undefined,
    forbiddenFields: ["instructions", "temperature", "tools", "tool_choice", "max_response_output_tokens"],
  },
];

/** The feature a version-gated value needs, per field value [see VersionFeature]. */
export const VALUE_REQUIRES: Readonly<Record<string, VersionFeature>> = {
  "voice.type=azure-realtime-native": "realtime-native-voices",
  "end_of_utterance_detection.model=smart_end_of_turn_detection": "smart-end-of-turn",
};

/** Voices of type azure-realtime-native [SDK KnownAzureRealtimeNativeVoiceName]. */
export const REALTIME_NATIVE_VOICES: readonly string[] = [
  "aarti",
  "andrew",
  "ava",
  "denise",
  "diya",
  "elsa",
  "florian",
  "francisca",
  "meera",
  "xiaoxiao",
  "yunxi",
  "ximena",
];

/** Where a session goes: model mode (a model name) or agent mode, and the API version. */
export interface SessionTarget {
  readonly model: string | undefined;
  readonly apiVersion: string;
  readonly agentMode: boolean;
}

export const DEFAULT_MODEL = "gpt-realtime";
export const DEFAULT_TARGET: SessionTarget = {
  model: DEFAULT_MODEL,
  apiVersion: DEFAULT_API_VERSION,
  agentMode: false,
};

function familyInfo(family: ModelFamily): ModelCapabilities {
  const found = MODEL_CAPABILITIES.find((c) => c.family === family);
  if (found === undefined) throw new Error(`no capabilities for ${family}`);
  return found;
}

/** The family of a model name; unknown names are `cascaded` (the settings every model accepts). */
export function modelFamily(model: string | undefined, agentMode = false): ModelFamily {
  if (agentMode || model === undefined) return "agent";
  const found = MODEL_CAPABILITIES.find((c) => c.family !== "agent" && c.pattern.test(model));
  return found?.family ?? "cascaded";
}

/** The capabilities a target can use: its family's, narrowed to what its API version has. */
export interface ResolvedCapabilities extends ModelCapabilities {
  readonly target: SessionTarget;
  readonly version: ApiVersionInfo | undefined;
  /** Human name for messages: "model gpt-realtime at 2026-07-15" or "agent mode at ...". */
  readonly label: string;
}

export function capabilitiesFor(target: SessionTarget): ResolvedCapabilities {
  const base = familyInfo(modelFamily(target.model, target.agentMode));
  const version = apiVersionInfo(target.apiVersion);
  const has = (feature: VersionFeature): boolean => version?.features.includes(feature) ?? false;
  const gate = <T extends string>(values: readonly T[], key: string): T[] =>
    values.filter((value) => {
      const needs = VALUE_REQUIRES[`${key}=${value}`];
      return needs === undefined || has(needs);
    });
  const who = target.agentMode ? "agent mode" : `model ${target.model ?? "(none)"}`;
  return {
    ...base,
    voiceTypes: gate(base.voiceTypes, "voice.type"),
    endOfUtteranceModels: gate(base.endOfUtteranceModels, "end_of_utterance_detection.model"),
    defaultVoice:
      base.family === "azure-realtime" && has("realtime-native-voices") ? "ava" : base.defaultVoice,
    target,
    version,
    label: `${who} at api-version ${target.apiVersion}`,
  };
}

/**
 * Problems with the target itself (not with a session): an unknown API version, the GA-shaped
 * `v1` label this client does not speak, a model that needs a newer version.
 */
export function targetProblems(target: SessionTarget): string[] {
  const version = apiVersionInfo(target.apiVersion);
  if (version === undefined) {
    return [
      `api-version ${target.apiVersion} is not a Voice Live version; use one of ${API_VERSIONS.map((v) => v.id).join(", ")}`,
    ];
  }
  if (version.schema !== "beta") {
    return [
      `api-version ${version.id} uses the OpenAI GA event shape (session.audio.*), which this bot does not speak; use ${DEFAULT_API_VERSION}`,
    ];
  }
  const caps = capabilitiesFor(target);
  if (caps.requires !== undefined && !version.features.includes(caps.requires)) {
    const first = API_VERSIONS.find((v) => caps.requires !== undefined && v.features.includes(caps.requires));
    return [`model ${target.model} needs api-version ${first?.id ?? "newer"} or later (got ${version.id})`];
  }
  return [];
}

/** Default `prefix_padding_ms` the service applies for a detector at a version [D26 2026-04-10]. */
export function defaultPrefixPaddingMs(type: TurnDetectionKind, apiVersion: string): number {
  const newer = apiVersionInfo(apiVersion)?.features.includes("vad-padding-2026") ?? false;
  if (!newer || type === "semantic_vad") return 300;
  return type === "server_vad" ? 400 : 420;
}

/** "a, b or c" for messages. */
export function listed(values: readonly string[]): string {
  if (values.length === 0) return "nothing";
  if (values.length === 1) return values[0] ?? "";
  return `${values.slice(0, -1).join(", ")} or ${values.at(-1)}`;
}
