/**
 * A guild's persona: what the bot is told and how it sounds and listens. Pure data and validation,
 * shared by the store (persistence), the commands (input) and the conversation (session config).
 */
import { REALTIME_NATIVE_VOICES } from "./voicelive/capabilities.ts";

export { REALTIME_NATIVE_VOICES };

export type TurnDetectionType =
  | "server_vad"
  | "azure_semantic_vad"
  | "azure_semantic_vad_multilingual"
  | "semantic_vad";

export const TURN_DETECTION_TYPES: readonly TurnDetectionType[] = [
  "server_vad",
  "azure_semantic_vad",
  "azure_semantic_vad_multilingual",
  "semantic_vad",
];

export interface Persona {
  readonly instructions: string;
  /** An OpenAI voice name (`alloy`) or an Azure voice name (`en-US-AvaNeural`, `en-US-Ava:DragonHDLatestNeural`). */
  readonly voice: string;
  /** Set for an Azure custom voice: the deployment's endpoint id. */
  readonly voiceEndpointId: string | null;
  readonly temperature: number;
  readonly turnDetection: {
    readonly type: TurnDetectionType;
    readonly threshold: number;
    readonly silenceDurationMs: number;
    readonly prefixPaddingMs: number;
  };
  readonly noiseSuppression: boolean;
  readonly echoCancellation: boolean;
  /** BCP-47 language for the user's transcript (captions), or null for automatic. */
  readonly transcriptionLanguage: string | null;
  /** Lower the bot's volume as soon as Discord reports a user speaking over it. */
  readonly ducking: boolean;
  /** Tell the model who speaks in each turn and who is in the channel (display names only). */
  readonly attribution: boolean;
  /** The tools the model may call (each still checks the speaker's permission). */
  readonly tools: readonly ToolName[];
  /** IANA time zone for `current_time`, such as Europe/Paris. */
  readonly timeZone: string;
  /**
   * `service`: any speech the service detects stops the answer for good. `smart`: the bot pauses,
   * then resumes after a cough or a backchannel and stops only for a real interruption.
   */
  readonly turnTaking: TurnTaking;
  /** `smart`: speech longer than this interrupts whatever it says. */
  readonly minInterruptionMs: number;
  /** The name that addresses the bot in a group; null: the bot's display name. */
  readonly wakeName: string | null;
  /** When a turn must address the bot to be answered. */
  readonly wakeMode: WakeMode;
  /** After the bot spoke, a turn this soon is answered without its name. */
  readonly followUpSeconds: number;
}

export type TurnTaking = "service" | "smart";
export const TURN_TAKING_MODES: readonly TurnTaking[] = ["service", "smart"];
/** `group`: only when two or more people are in the channel; `always`: even one-to-one. */
export type WakeMode = "off" | "group" | "always";
export const WAKE_MODES: readonly WakeMode[] = ["off", "group", "always"];
export const MAX_WAKE_NAME_LENGTH = 32;

/**
 * Whether the bot decides interruptions itself. Not with OpenAI's semantic_vad: the service's
 * models of it (SDK, swagger) have no `interrupt_response` / `create_response` to turn off, so
 * the service keeps deciding, as with `service`.
 */
export function smartTurnTaking(persona: Pick<Persona, "turnTaking" | "turnDetection">): boolean {
  return persona.turnTaking === "smart" && persona.turnDetection.type !== "semantic_vad";
}

/** The bot's built-in tools (src/tools/); a guild enables a subset with /persona tools. */
export const TOOL_NAMES = [
  "leave_channel",
  "who_is_here",
  "current_time",
  "set_captions",
  "change_voice",
] as const;
export type ToolName = (typeof TOOL_NAMES)[number];

export function isToolName(name: string): name is ToolName {
  return (TOOL_NAMES as readonly string[]).includes(name);
}

/** Whether the runtime knows the IANA zone (it throws RangeError for an unknown one). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return zone.length > 0;
  } catch {
    return false;
  }
}

export const OPENAI_VOICES: readonly string[] = [
  "alloy",
  "ash",
  "ballad",
  "coral",
  "echo",
  "sage",
  "shimmer",
  "verse",
  "marin",
  "cedar",
];

/** A selection of Azure voices for autocomplete; any well-formed Azure voice name is accepted. */
export const AZURE_VOICES: readonly string[] = [
  "en-US-Ava:DragonHDLatestNeural",
  "en-US-Andrew:DragonHDLatestNeural",
  "en-US-Emma:DragonHDLatestNeural",
  "en-US-Brian:DragonHDLatestNeural",
  "en-US-AvaMultilingualNeural",
  "en-US-AndrewMultilingualNeural",
  "en-US-EmmaMultilingualNeural",
  "en-US-BrianMultilingualNeural",
  "en-US-AvaNeural",
  "en-US-AndrewNeural",
  "en-US-JennyNeural",
  "en-US-GuyNeural",
  "en-GB-SoniaNeural",
  "en-GB-RyanNeural",
  "en-AU-NatashaNeural",
  "de-DE-KatjaNeural",
  "de-DE-ConradNeural",
  "fr-FR-DeniseNeural",
  "fr-FR-HenriNeural",
  "es-ES-ElviraNeural",
  "es-MX-DaliaNeural",
  "it-IT-ElsaNeural",
  "pt-BR-FranciscaNeural",
  "ja-JP-NanamiNeural",
  "ko-KR-SunHiNeural",
  "zh-CN-XiaoxiaoNeural",
  "hi-IN-SwaraNeural",
  "nl-NL-ColetteNeural",
  "pl-PL-ZofiaNeural",
  "sv-SE-SofieNeural",
];

const AZURE_VOICE_PATTERN = /^[a-z]{2,3}-[A-Z][A-Za-z]{1,3}(-[A-Za-z]+)?-[A-Za-z0-9]+(:[A-Za-z0-9]+)?Neural$/;
const LANGUAGE_PATTERN = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;
export const MAX_INSTRUCTIONS_LENGTH = 4000;

export type VoiceKind = "openai" | "azure-standard" | "azure-custom" | "azure-realtime-native";

/** The wire voice type a persona's voice name stands for. */
export function voiceKind(persona: Pick<Persona, "voice" | "voiceEndpointId">): VoiceKind {
  if (persona.voiceEndpointId !== null) return "azure-custom";
  if (OPENAI_VOICES.includes(persona.voice)) return "openai";
  return REALTIME_NATIVE_VOICES.includes(persona.voice) ? "azure-realtime-native" : "azure-standard";
}

/**
 * What the configured model and API version allow, for `/persona set` and voice autocomplete.
 * Built from the capability table (src/bridge/persona-rules.ts); absent means no model check.
 */
export interface PersonaRules {
  /** Problems with a changed persona, each naming the option and what the model accepts. */
  check(persona: Persona, change: PersonaChange): string[];
  /** The voice names autocomplete offers. */
  voices(): readonly string[];
}

/** No model check: every well-formed persona is saved, every listed voice offered. */
export const UNRESTRICTED_RULES: PersonaRules = {
  check: () => [],
  voices: () => [...OPENAI_VOICES, ...REALTIME_NATIVE_VOICES, ...AZURE_VOICES],
};

export function defaultPersona(defaults: { instructions: string; voice: string }): Persona {
  return {
    instructions: defaults.instructions,
    voice: defaults.voice,
    voiceEndpointId: null,
    temperature: 0.8,
    turnDetection: { type: "server_vad", threshold: 0.5, silenceDurationMs: 500, prefixPaddingMs: 300 },
    noiseSuppression: false,
    echoCancellation: false,
    transcriptionLanguage: null,
    ducking: false,
    attribution: true,
    tools: [...TOOL_NAMES],
    timeZone: "UTC",
    turnTaking: "smart",
    minInterruptionMs: 500,
    wakeName: null,
    wakeMode: "off",
    followUpSeconds: 20,
  };
}

/** Control characters other than newline and tab; they are stripped from free text. */
const CONTROL_CHARACTERS =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u200B-\u200F\u2028-\u202E\u2066-\u2069]/g;

export function sanitizeText(text: string): string {
  return text.replace(/\r\n?/g, "\n").replace(CONTROL_CHARACTERS, "").trim();
}

export type PersonaChange = {
  -readonly [K in keyof Persona]?: K extends "turnDetection" ? Partial<Persona["turnDetection"]> : Persona[K];
};

export type PersonaValidation = { ok: true; persona: Persona } | { ok: false; problems: string[] };

/**
 * Applies a change to a persona and validates the result as a whole. Each problem names the
 * option a user typed, so the command can answer with it; nothing is returned to save otherwise.
 */
export function applyPersonaChange(base: Persona, change: PersonaChange): PersonaValidation {
  const problems: string[] = [];
  const instructions =
    change.instructions === undefined ? base.instructions : sanitizeText(change.instructions);
  if (instructions.length === 0) problems.push("instructions: must not be empty");
  if (instructions.length > MAX_INSTRUCTIONS_LENGTH) {
    problems.push(`instructions: at most ${MAX_INSTRUCTIONS_LENGTH} characters (got ${instructions.length})`);
  }
  const voice = change.voice === undefined ? base.voice : sanitizeText(change.voice);
  const voiceEndpointId =
    change.voiceEndpointId === undefined
      ? change.voice !== undefined
        ? null
        : base.voiceEndpointId
      : change.voiceEndpointId === null
        ? null
        : sanitizeText(change.voiceEndpointId);
  if (
    !OPENAI_VOICES.includes(voice) &&
    !REALTIME_NATIVE_VOICES.includes(voice) &&
    !AZURE_VOICE_PATTERN.test(voice)
  ) {
    problems.push(
      `voice: "${voice.slice(0, 60)}" is neither an OpenAI voice (${OPENAI_VOICES.join(", ")}), an azure-realtime voice (${REALTIME_NATIVE_VOICES.join(", ")}) nor an Azure voice name such as en-US-AvaNeural`,
    );
  }
  if (voiceEndpointId !== null) {
    if (!/^[0-9a-fA-F-]{8,64}$/.test(voiceEndpointId))
      problems.push("voice endpoint id: must be a deployment GUID");
    if (OPENAI_VOICES.includes(voice) || REALTIME_NATIVE_VOICES.includes(voice))
      problems.push("voice endpoint id: only Azure custom voices take an endpoint id");
  }
  const temperature = change.temperature ?? base.temperature;
  if (!Number.isFinite(temperature) || temperature < 0.6 || temperature > 1.2) {
    problems.push(`temperature: must be from 0.6 to 1.2 (got ${temperature})`);
  }
  const turnDetection = { ...base.turnDetection, ...change.turnDetection };
  if (!TURN_DETECTION_TYPES.includes(turnDetection.type)) {
    problems.push(`turn detection: must be one of ${TURN_DETECTION_TYPES.join(", ")}`);
  }
  if (
    !Number.isFinite(turnDetection.threshold) ||
    turnDetection.threshold < 0 ||
    turnDetection.threshold > 1
  ) {
    problems.push(`threshold: must be from 0 to 1 (got ${turnDetection.threshold})`);
  }
  if (
    !Number.isInteger(turnDetection.silenceDurationMs) ||
    turnDetection.silenceDurationMs < 200 ||
    turnDetection.silenceDurationMs > 5000
  ) {
    problems.push(
      `silence duration: must be a whole number of milliseconds from 200 to 5000 (got ${turnDetection.silenceDurationMs})`,
    );
  }
  if (
    !Number.isInteger(turnDetection.prefixPaddingMs) ||
    turnDetection.prefixPaddingMs < 0 ||
    turnDetection.prefixPaddingMs > 2000
  ) {
    problems.push(
      `prefix padding: must be a whole number of milliseconds from 0 to 2000 (got ${turnDetection.prefixPaddingMs})`,
    );
  }
  const transcriptionLanguage =
    change.transcriptionLanguage === undefined
      ? base.transcriptionLanguage
      : change.transcriptionLanguage === null
        ? null
        : sanitizeText(change.transcriptionLanguage);
  if (transcriptionLanguage !== null && !LANGUAGE_PATTERN.test(transcriptionLanguage)) {
    problems.push(
      `transcription language: must be a language code such as en or en-US (got "${transcriptionLanguage.slice(0, 20)}")`,
    );
  }
  const tools = change.tools === undefined ? base.tools : [...new Set(change.tools)];
  const unknownTools = tools.filter((tool) => !isToolName(tool));
  if (unknownTools.length > 0) {
    problems.push(
      `tools: ${unknownTools.map((t) => String(t).slice(0, 30)).join(", ")} unknown; the tools are ${TOOL_NAMES.join(", ")}`,
    );
  }
  const timeZone = change.timeZone === undefined ? base.timeZone : sanitizeText(change.timeZone);
  if (!isTimeZone(timeZone)) {
    problems.push(`time zone: "${timeZone.slice(0, 40)}" is not a time zone such as UTC or Europe/Paris`);
  }
  const turnTaking = change.turnTaking ?? base.turnTaking;
  if (!TURN_TAKING_MODES.includes(turnTaking)) {
    problems.push(`turn taking: must be one of ${TURN_TAKING_MODES.join(", ")}`);
  }
  const minInterruptionMs = change.minInterruptionMs ?? base.minInterruptionMs;
  if (!Number.isInteger(minInterruptionMs) || minInterruptionMs < 100 || minInterruptionMs > 3000) {
    problems.push(
      `min interruption: must be a whole number of milliseconds from 100 to 3000 (got ${minInterruptionMs})`,
    );
  }
  const wakeName =
    change.wakeName === undefined
      ? base.wakeName
      : change.wakeName === null
        ? null
        : sanitizeText(change.wakeName).replace(/\s+/g, " ");
  if (wakeName !== null && (!/\p{L}/u.test(wakeName) || wakeName.length > MAX_WAKE_NAME_LENGTH)) {
    problems.push(
      `wake name: must contain letters and be at most ${MAX_WAKE_NAME_LENGTH} characters (got "${wakeName.slice(0, 40)}")`,
    );
  }
  const wakeMode = change.wakeMode ?? base.wakeMode;
  if (!WAKE_MODES.includes(wakeMode)) problems.push(`wake mode: must be one of ${WAKE_MODES.join(", ")}`);
  else if (wakeMode !== "off" && turnDetection.type === "semantic_vad") {
    problems.push(
      "wake mode: needs a turn detection other than semantic_vad, which always answers every turn by itself",
    );
  }
  const followUpSeconds = change.followUpSeconds ?? base.followUpSeconds;
  if (!Number.isInteger(followUpSeconds) || followUpSeconds < 0 || followUpSeconds > 300) {
    problems.push(`follow up: must be a whole number of seconds from 0 to 300 (got ${followUpSeconds})`);
  }
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    persona: {
      instructions,
      voice,
      voiceEndpointId,
      temperature,
      turnDetection,
      noiseSuppression: change.noiseSuppression ?? base.noiseSuppression,
      echoCancellation: change.echoCancellation ?? base.echoCancellation,
      transcriptionLanguage,
      ducking: change.ducking ?? base.ducking,
      attribution: change.attribution ?? base.attribution,
      tools: TOOL_NAMES.filter((tool) => tools.includes(tool)),
      timeZone,
      turnTaking,
      minInterruptionMs,
      wakeName,
      wakeMode,
      followUpSeconds,
    },
  };
}

/** Listen policy per guild: whose speech reaches Voice Live. Bots are never heard. */
export type ListenPolicy =
  | { readonly mode: "everyone" }
  | { readonly mode: "initiator" }
  | { readonly mode: "role"; readonly roleId: string };

export interface CaptionSettings {
  readonly enabled: boolean;
  /** Null means the voice channel's own text chat. */
  readonly channelId: string | null;
}

/** Everything stored per guild. */
export interface GuildSettings {
  readonly persona: Persona;
  readonly captions: CaptionSettings;
  readonly listen: ListenPolicy;
}
