import { type Persona, smartTurnTaking, voiceKind } from "../persona.ts";
import { capabilitiesFor, type ResolvedCapabilities, type SessionTarget } from "../voicelive/capabilities.ts";
import type {
  AzureVoiceOptions,
  EndOfUtteranceDetection,
  FunctionTool,
  InputAudioFormat,
  InputAudioTranscription,
  Modality,
  OutputAudioFormat,
  SessionConfig,
  TurnDetection,
  Voice,
} from "../voicelive/protocol.ts";
import {
  AGENT_INSTRUCTIONS_PROBLEM,
  type SessionConfigResult,
  targetOf,
  validateSessionConfig,
} from "../voicelive/session-config.ts";
import { rosterParagraph } from "./speaker-notes.ts";

/**
 * A guild's persona as the `session` of a `session.update`: the one place that knows both what a
 * persona says and how Voice Live spells it. The result is checked before anything is sent.
 */

export interface TurnDetectionOptions {
  /**
   * Default: true unless the bot answers turns itself (smart turn-taking, a wake name). Sent
   * explicitly: the docs say default true, the 2025-10-01 swagger false.
   */
  readonly createResponse?: boolean;
  /** Default: true (the service cancels its own response on barge-in) unless turn-taking is smart. */
  readonly interruptResponse?: boolean;
  readonly removeFillerWords?: boolean;
  readonly endOfUtteranceDetection?: EndOfUtteranceDetection;
  /** `semantic_vad` only. */
  readonly eagerness?: "auto" | "low" | "medium" | "high";
}

export interface SessionOptions {
  /** Default `["text", "audio"]`. */
  readonly modalities?: readonly Modality[];
  /** Where the session goes; decides what may be sent (capabilities.ts). Default: gpt-realtime, newest GA. */
  readonly target?: SessionTarget;
  /** Agent mode without a full target (kept for callers that only know the mode). */
  readonly agentMode?: boolean;
  /** Replaces the persona's instructions (rejected in agent mode). */
  readonly instructions?: string;
  /** Replaces the voice derived from the persona (personal and realtime-native voices). */
  readonly voice?: Voice;
  /** Merged into an Azure voice derived from the persona. */
  readonly azureVoiceOptions?: AzureVoiceOptions;
  /** Default `pcm16`. */
  readonly inputAudioFormat?: InputAudioFormat;
  /** pcm16 only; default 24000. */
  readonly inputSampleRate?: number;
  /** Default `pcm16` (24 kHz). */
  readonly outputAudioFormat?: OutputAudioFormat;
  /** `null` means manual turns (no VAD). */
  readonly turnDetection?: TurnDetectionOptions | null;
  /** Default: the model's own default (capabilities.ts); `null` turns user transcripts (captions) off. */
  readonly transcriptionModel?: string | null;
  readonly maxResponseOutputTokens?: number | "inf";
  /** Ask for word timestamps (captions cut at the last word heard); sent only with Azure voices. */
  readonly wordTimestamps?: boolean;
  /** Who is in the channel, for the instructions (attribution on); undefined leaves them as they are. */
  readonly roster?: readonly string[];
  /** Function tools the model may call (not sent in agent mode: the agent has its own). */
  readonly tools?: readonly FunctionTool[];
}

/** Builds and validates the full session configuration for a persona. */
export function buildSessionConfig(persona: Persona, options: SessionOptions = {}): SessionConfigResult {
  const target = targetOf(options);
  const caps = capabilitiesFor(target);
  if (target.agentMode && options.instructions !== undefined) {
    return { ok: false, problems: [AGENT_INSTRUCTIONS_PROBLEM] };
  }
  const inputFormat = options.inputAudioFormat ?? "pcm16";
  const transcriptionModel =
    options.transcriptionModel === undefined ? caps.defaultTranscriptionModel : options.transcriptionModel;
  const voice = options.voice ?? personaVoice(persona, options.azureVoiceOptions);
  const config: SessionConfig = {
    modalities: options.modalities ?? ["text", "audio"],
    ...(target.agentMode ? {} : { instructions: instructionsOf(persona, options) }),
    voice,
    input_audio_format: inputFormat,
    ...(inputFormat === "pcm16" ? { input_audio_sampling_rate: options.inputSampleRate ?? 24000 } : {}),
    output_audio_format: options.outputAudioFormat ?? "pcm16",
    turn_detection:
      options.turnDetection === null ? null : personaTurnDetection(persona, options.turnDetection ?? {}),
    input_audio_noise_reduction: persona.noiseSuppression ? { type: "azure_deep_noise_suppression" } : null,
    input_audio_echo_cancellation: persona.echoCancellation ? { type: "server_echo_cancellation" } : null,
    input_audio_transcription:
      transcriptionModel === null ? null : transcriptionOf(transcriptionModel, persona, caps),
    // The agent owns its temperature [capabilities.ts, agent family]: not sent, not overridden.
    ...(caps.temperature === undefined ? {} : { temperature: persona.temperature }),
    ...(options.maxResponseOutputTokens === undefined
      ? {}
      : { max_response_output_tokens: options.maxResponseOutputTokens }),
    ...(target.agentMode || options.tools === undefined || options.tools.length === 0
      ? {}
      : { tools: options.tools, tool_choice: "auto" as const }),
    ...(options.wordTimestamps === true && typeof voice === "object" && voice.type.startsWith("azure-")
      ? { output_audio_timestamp_types: ["word"] as const }
      : {}),
  };
  return validateSessionConfig(config, { target });
}

function instructionsOf(persona: Persona, options: SessionOptions): string {
  const base = options.instructions ?? persona.instructions;
  return options.roster === undefined ? base : `${base}\n\n${rosterParagraph(options.roster)}`;
}

/**
 * The transcription settings in the form the model takes: OpenAI transcription models want one
 * ISO-639-1 code, so `en-US` becomes `en`; Azure Speech takes the BCP-47 tag as it is.
 */
function transcriptionOf(
  model: string,
  persona: Persona,
  caps: ResolvedCapabilities,
): InputAudioTranscription {
  const language = persona.transcriptionLanguage;
  if (language === null) return { model };
  const form = caps.transcriptionModels.find((m) => m.name === model)?.languageForm ?? "bcp-47-list";
  const primary = language.split(/[,-]/)[0]?.toLowerCase() ?? language;
  return { model, language: form === "iso-639-1" ? primary : language };
}

function personaVoice(persona: Persona, azureOptions: AzureVoiceOptions | undefined): Voice {
  switch (voiceKind(persona)) {
    case "openai":
      return { type: "openai", name: persona.voice };
    case "azure-custom":
      return {
        type: "azure-custom",
        name: persona.voice,
        endpoint_id: persona.voiceEndpointId ?? "",
        ...azureOptions,
      };
    case "azure-standard":
      return { type: "azure-standard", name: persona.voice, ...azureOptions };
    case "azure-realtime-native":
      // SSML options are Azure TTS options; the native voices take a name only [SDK AzureRealtimeNativeVoice].
      return { type: "azure-realtime-native", name: persona.voice };
  }
}

function personaTurnDetection(persona: Persona, options: TurnDetectionOptions): TurnDetection {
  const { type, threshold, prefixPaddingMs, silenceDurationMs } = persona.turnDetection;
  // Smart turn-taking decides interruptions itself, and either mode of the bot's own (smart, a wake
  // name) answers turns itself: the service must do neither.
  const smart = smartTurnTaking(persona);
  const responses = {
    create_response: options.createResponse ?? (!smart && persona.wakeMode === "off"),
    interrupt_response: options.interruptResponse ?? !smart,
  };
  if (type === "semantic_vad") {
    // OpenAI's semantic_vad defaults both to true (no disagreement to pin down), and the SDK's
    // serializer models no semantic_vad field but `type`: send only what differs from the default.
    return {
      type,
      ...(options.eagerness === undefined ? {} : { eagerness: options.eagerness }),
      ...(responses.create_response ? {} : { create_response: false }),
      ...(responses.interrupt_response ? {} : { interrupt_response: false }),
    };
  }
  const eou =
    options.endOfUtteranceDetection === undefined
      ? {}
      : { end_of_utterance_detection: options.endOfUtteranceDetection };
  const timing = { threshold, prefix_padding_ms: prefixPaddingMs, silence_duration_ms: silenceDurationMs };
  if (type === "server_vad") return { type, ...timing, ...eou, ...responses };
  return {
    type,
    ...timing,
    ...(options.removeFillerWords === undefined ? {} : { remove_filler_words: options.removeFillerWords }),
    ...eou,
    ...responses,
  };
}
