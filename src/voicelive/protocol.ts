/**
 * Azure AI Voice Live wire protocol (api-version 2025-10-01 and later): the client events we send,
 * the server events we act on, and the session, item and response shapes both sides build. Field
 * names are the wire's snake_case. Pure data, no I/O: the bot's client and the local server share it.
 */

// ---------------------------------------------------------------------------------------------
// Session
// ---------------------------------------------------------------------------------------------

export type Modality = "text" | "audio";
export type InputAudioFormat = "pcm16" | "g711_ulaw" | "g711_alaw";
export type OutputAudioFormat = "pcm16" | "pcm16_16000hz" | "pcm16_8000hz" | "g711_ulaw" | "g711_alaw";

/** SSML-style options every Azure voice accepts; strings follow SSML `prosody` rules. */
export interface AzureVoiceOptions {
  /** 0..1, HD voices only. */
  readonly temperature?: number;
  readonly rate?: string;
  readonly style?: string;
  readonly pitch?: string;
  readonly volume?: string;
  /** Forces an accent; unsupported text is then silent. */
  readonly locale?: string;
  readonly prefer_locales?: readonly string[];
  readonly custom_lexicon_url?: string;
  readonly custom_text_normalization_url?: string;
}

export interface OpenAIVoice {
  readonly type: "openai";
  readonly name: string;
}
export interface AzureStandardVoice extends AzureVoiceOptions {
  readonly type: "azure-standard";
  readonly name: string;
}
export interface AzureCustomVoice extends AzureVoiceOptions {
  readonly type: "azure-custom";
  readonly name: string;
  readonly endpoint_id: string;
}
export interface AzurePersonalVoice extends AzureVoiceOptions {
  readonly type: "azure-personal";
  readonly name: string;
  readonly model: string;
}
/** Only with `model=azure-realtime`. */
export interface AzureRealtimeNativeVoice extends AzureVoiceOptions {
  readonly type: "azure-realtime-native";
  readonly name: string;
}
export type VoiceObject =
  | OpenAIVoice
  | AzureStandardVoice
  | AzureCustomVoice
  | AzurePersonalVoice
  | AzureRealtimeNativeVoice;
/** A bare string is the legacy OpenAI voice name form. */
export type Voice = string | VoiceObject;

export interface EndOfUtteranceDetection {
  readonly model: string;
  readonly threshold_level?: "low" | "medium" | "high" | "default";
  readonly timeout_ms?: number;
}

interface TurnDetectionCommon {
  /** Always sent: the docs say default true, the 2025-10-01 swagger says false. */
  readonly create_response?: boolean;
  readonly interrupt_response?: boolean;
  readonly auto_truncate?: boolean;
}
export interface ServerVad extends TurnDetectionCommon {
  readonly type: "server_vad";
  readonly threshold?: number;
  readonly prefix_padding_ms?: number;
  readonly silence_duration_ms?: number;
  readonly speech_duration_ms?: number;
  readonly end_of_utterance_detection?: EndOfUtteranceDetection;
}
export interface AzureSemanticVad extends TurnDetectionCommon {
  readonly type: "azure_semantic_vad" | "azure_semantic_vad_en" | "azure_semantic_vad_multilingual";
  readonly threshold?: number;
  readonly prefix_padding_ms?: number;
  readonly silence_duration_ms?: number;
  readonly speech_duration_ms?: number;
  readonly remove_filler_words?: boolean;
  readonly languages?: readonly string[];
  readonly end_of_utterance_detection?: EndOfUtteranceDetection;
  readonly appended_text_after_truncation?: string;
}
/** OpenAI's semantic VAD (gpt-realtime models only): no threshold or timing fields. */
export interface SemanticVad extends TurnDetectionCommon {
  readonly type: "semantic_vad";
  readonly eagerness?: "auto" | "low" | "medium" | "high";
}
export type TurnDetection = ServerVad | AzureSemanticVad | SemanticVad;

export interface NoiseReduction {
  readonly type: "azure_deep_noise_suppression" | "near_field" | "far_field";
}
export interface EchoCancellation {
  readonly type: "server_echo_cancellation";
}
export interface InputAudioTranscription {
  readonly model: string;
  readonly language?: string;
  readonly prompt?: string;
  readonly phrase_list?: readonly string[];
}

export interface FunctionTool {
  readonly type: "function";
  readonly name: string;
  readonly description?: string;
  readonly parameters?: Readonly<Record<string, unknown>>;
}
export type ToolChoice = "auto" | "none" | "required" | { readonly type: "function"; readonly name: string };

/**
 * The `session` of a `session.update`: a partial merge, only present fields change. `null`
 * disables turn detection, noise reduction, echo cancellation and transcription.
 */
export interface SessionConfig {
  readonly modalities?: readonly Modality[];
  readonly instructions?: string;
  readonly voice?: Voice;
  readonly input_audio_format?: InputAudioFormat;
  readonly input_audio_sampling_rate?: number;
  readonly output_audio_format?: OutputAudioFormat;
  readonly turn_detection?: TurnDetection | null;
  readonly input_audio_noise_reduction?: NoiseReduction | null;
  readonly input_audio_echo_cancellation?: EchoCancellation | null;
  readonly input_audio_transcription?: InputAudioTranscription | null;
  readonly tools?: readonly FunctionTool[];
  readonly tool_choice?: ToolChoice;
  readonly temperature?: number;
  readonly max_response_output_tokens?: number | "inf";
  readonly output_audio_timestamp_types?: readonly "word"[];
}

/** The effective session the server reports in `session.created` / `session.updated`. */
export interface SessionInfo extends SessionConfig {
  readonly id?: string;
  readonly object?: "realtime.session";
  readonly model?: string;
  readonly agent?: {
    readonly type: "agent";
    readonly name: string;
    readonly agent_id?: string;
    readonly thread_id?: string;
    readonly description?: string;
  };
  /** Unix seconds (2026-07-15+). */
  readonly expires_at?: number;
}

// ---------------------------------------------------------------------------------------------
// Items and content
// ---------------------------------------------------------------------------------------------

export type ItemStatus = "in_progress" | "completed" | "incomplete";
export type MessageRole = "system" | "user" | "assistant";

export interface InputTextPart {
  readonly type: "input_text";
  readonly text: string;
}
export interface InputAudioPart {
  readonly type: "input_audio";
  /** Base64 in the input format; the server sends null back. */
  readonly audio?: string | null;
  readonly transcript?: string | null;
}
export interface TextPart {
  readonly type: "text";
  readonly text: string;
}
export interface AudioPart {
  readonly type: "audio";
  readonly audio?: string | null;
  readonly transcript?: string | null;
}
export type ContentPart = InputTextPart | InputAudioPart | TextPart | AudioPart;

interface ItemCommon {
  /** Client-chosen on requests, always set by the server. */
  readonly id?: string;
  readonly object?: "realtime.item";
  readonly status?: ItemStatus;
}
export interface MessageItem extends ItemCommon {
  readonly type: "message";
  readonly role: MessageRole;
  readonly content: readonly ContentPart[];
}
export interface FunctionCallItem extends ItemCommon {
  readonly type: "function_call";
  readonly name: string;
  readonly call_id: string;
  readonly arguments: string;
}
export interface FunctionCallOutputItem extends ItemCommon {
  readonly type: "function_call_output";
  readonly call_id: string;
  readonly output: string;
}
export type ConversationItem = MessageItem | FunctionCallItem | FunctionCallOutputItem;

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

/** The parser maps the occasional wire spelling `canceled` to `cancelled`. */
export type ResponseStatus = "in_progress" | "completed" | "cancelled" | "failed" | "incomplete";

export interface ResponseStatusDetails {
  readonly type: ResponseStatus;
  /** cancelled: `turn_detected` | `client_cancelled`; incomplete: `max_output_tokens` | `content_filter`. */
  readonly reason?: string;
  readonly error?: { readonly type?: string; readonly code?: string; readonly message?: string } | null;
}

export interface Usage {
  readonly total_tokens: number;
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly input_token_details?: {
    readonly cached_tokens?: number;
    readonly text_tokens?: number;
    readonly audio_tokens?: number;
    readonly image_tokens?: number;
    readonly cached_tokens_details?: {
      readonly text_tokens?: number;
      readonly audio_tokens?: number;
      readonly image_tokens?: number;
    };
  };
  readonly output_token_details?: {
    readonly text_tokens?: number;
    readonly audio_tokens?: number;
    readonly reasoning_tokens?: number;
  };
}

export interface RealtimeResponse {
  readonly id: string;
  readonly object?: "realtime.response";
  readonly status: ResponseStatus;
  readonly status_details?: ResponseStatusDetails | null;
  /** Items of kinds this module does not model (MCP, agent tools) are left out by the parser. */
  readonly output?: readonly ConversationItem[];
  readonly usage?: Usage | null;
  readonly conversation_id?: string;
  readonly voice?: Voice;
  readonly modalities?: readonly Modality[];
  readonly output_audio_format?: OutputAudioFormat;
  readonly temperature?: number;
  readonly max_output_tokens?: number | "inf";
  readonly metadata?: Readonly<Record<string, string>> | null;
}

/** The `response` of a `response.create`: per-response overrides of the session. */
export interface ResponseCreateParams {
  readonly commit?: boolean;
  readonly cancel_previous?: boolean;
  readonly append_input_items?: readonly ConversationItem[];
  readonly input_items?: readonly ConversationItem[];
  readonly modalities?: readonly Modality[];
  readonly instructions?: string;
  readonly voice?: Voice;
  readonly output_audio_format?: OutputAudioFormat;
  readonly tools?: readonly FunctionTool[];
  readonly tool_choice?: ToolChoice;
  readonly temperature?: number;
  readonly max_output_tokens?: number | "inf";
  /** An assistant message with one text part, spoken verbatim (greetings). */
  readonly pre_generated_assistant_message?: MessageItem;
  readonly metadata?: Readonly<Record<string, string>>;
}

// ---------------------------------------------------------------------------------------------
// Client events
// ---------------------------------------------------------------------------------------------

interface ClientEventCommon {
  /** Echoed as `error.event_id` when the server rejects the event. */
  readonly event_id?: string;
}
export interface SessionUpdateEvent extends ClientEventCommon {
  readonly type: "session.update";
  readonly session: SessionConfig;
}
export interface InputAudioBufferAppendEvent extends ClientEventCommon {
  readonly type: "input_audio_buffer.append";
  /** Base64 audio in `input_audio_format`. */
  readonly audio: string;
}
export interface InputAudioBufferCommitEvent extends ClientEventCommon {
  readonly type: "input_audio_buffer.commit";
}
export interface InputAudioBufferClearEvent extends ClientEventCommon {
  readonly type: "input_audio_buffer.clear";
}
export interface ResponseCreateEvent extends ClientEventCommon {
  readonly type: "response.create";
  readonly response?: ResponseCreateParams;
  /** Appended to the session instructions for this response only. */
  readonly additional_instructions?: string;
}
export interface ResponseCancelEvent extends ClientEventCommon {
  readonly type: "response.cancel";
  readonly response_id?: string;
}
export interface ConversationItemCreateEvent extends ClientEventCommon {
  readonly type: "conversation.item.create";
  /** `"root"` inserts at the start. */
  readonly previous_item_id?: string;
  readonly item: ConversationItem;
}
export interface ConversationItemTruncateEvent extends ClientEventCommon {
  readonly type: "conversation.item.truncate";
  readonly item_id: string;
  readonly content_index: number;
  /** Inclusive; must not exceed the audio the item has. */
  readonly audio_end_ms: number;
}
export interface ConversationItemDeleteEvent extends ClientEventCommon {
  readonly type: "conversation.item.delete";
  readonly item_id: string;
}
export interface ConversationItemRetrieveEvent extends ClientEventCommon {
  readonly type: "conversation.item.retrieve";
  readonly item_id: string;
}

export type ClientEvent =
  | SessionUpdateEvent
  | InputAudioBufferAppendEvent
  | InputAudioBufferCommitEvent
  | InputAudioBufferClearEvent
  | ResponseCreateEvent
  | ResponseCancelEvent
  | ConversationItemCreateEvent
  | ConversationItemTruncateEvent
  | ConversationItemDeleteEvent
  | ConversationItemRetrieveEvent;

export type ClientEventType = ClientEvent["type"];

// ---------------------------------------------------------------------------------------------
// Server events
// ---------------------------------------------------------------------------------------------

interface ServerEventCommon {
  readonly event_id?: string;
}
interface ResponseScoped extends ServerEventCommon {
  readonly response_id: string;
  readonly item_id: string;
  readonly output_index: number;
  readonly content_index: number;
}

export interface ErrorDetails {
  /** `invalid_request_error`, `server_error`, ... */
  readonly type: string;
  readonly code?: string | null;
  readonly message: string;
  readonly param?: string | null;
  /** The id of the client event that caused it. */
  readonly event_id?: string | null;
}
export interface ErrorEvent extends ServerEventCommon {
  readonly type: "error";
  readonly error: ErrorDetails;
}
export interface WarningEvent extends ServerEventCommon {
  readonly type: "warning";
  readonly warning: {
    readonly message: string;
    readonly code?: string | null;
    readonly param?: string | null;
  };
}
export interface SessionCreatedEvent extends ServerEventCommon {
  readonly type: "session.created";
  readonly session: SessionInfo;
}
export interface SessionUpdatedEvent extends ServerEventCommon {
  readonly type: "session.updated";
  readonly session: SessionInfo;
}
export interface SpeechStartedEvent extends ServerEventCommon {
  readonly type: "input_audio_buffer.speech_started";
  /** Ms since the start of all audio appended in the session; includes prefix padding. */
  readonly audio_start_ms: number;
  /** The user item this speech will become. */
  readonly item_id: string;
}
export interface SpeechStoppedEvent extends ServerEventCommon {
  readonly type: "input_audio_buffer.speech_stopped";
  readonly audio_end_ms: number;
  readonly item_id: string;
}
export interface InputAudioBufferCommittedEvent extends ServerEventCommon {
  readonly type: "input_audio_buffer.committed";
  readonly previous_item_id?: string | null;
  readonly item_id: string;
}
export interface InputAudioBufferClearedEvent extends ServerEventCommon {
  readonly type: "input_audio_buffer.cleared";
}
export interface ConversationItemCreatedEvent extends ServerEventCommon {
  readonly type: "conversation.item.created";
  readonly previous_item_id?: string | null;
  /** Optional in the spec [SW 2025-10-01]; also dropped here when of a kind the bot does not model (MCP...). */
  readonly item?: ConversationItem;
}
export interface ConversationItemRetrievedEvent extends ServerEventCommon {
  readonly type: "conversation.item.retrieved";
  readonly item: ConversationItem;
}
export interface ConversationItemTruncatedEvent extends ServerEventCommon {
  readonly type: "conversation.item.truncated";
  readonly item_id: string;
  readonly content_index: number;
  readonly audio_end_ms: number;
}
export interface ConversationItemDeletedEvent extends ServerEventCommon {
  readonly type: "conversation.item.deleted";
  readonly item_id: string;
}
export interface InputAudioTranscriptionDeltaEvent extends ServerEventCommon {
  readonly type: "conversation.item.input_audio_transcription.delta";
  readonly item_id: string;
  readonly content_index?: number;
  readonly delta?: string;
}
export interface InputAudioTranscriptionCompletedEvent extends ServerEventCommon {
  readonly type: "conversation.item.input_audio_transcription.completed";
  readonly item_id: string;
  readonly content_index: number;
  readonly transcript: string;
}
export interface InputAudioTranscriptionFailedEvent extends ServerEventCommon {
  readonly type: "conversation.item.input_audio_transcription.failed";
  readonly item_id: string;
  readonly content_index: number;
  readonly error: {
    readonly type?: string | null;
    readonly code?: string | null;
    readonly message: string;
    readonly param?: string | null;
  };
}
export interface ResponseCreatedEvent extends ServerEventCommon {
  readonly type: "response.created";
  readonly response: RealtimeResponse;
}
/** Always sent, whatever the outcome; carries the final status and usage. */
export interface ResponseDoneEvent extends ServerEventCommon {
  readonly type: "response.done";
  readonly response: RealtimeResponse;
}
export interface ResponseOutputItemAddedEvent extends ServerEventCommon {
  readonly type: "response.output_item.added";
  readonly response_id: string;
  readonly output_index: number;
  /** Optional in the spec [SW 2025-10-01]; also dropped here when of a kind the bot does not model (MCP...). */
  readonly item?: ConversationItem;
}
export interface ResponseOutputItemDoneEvent extends ServerEventCommon {
  readonly type: "response.output_item.done";
  readonly response_id: string;
  readonly output_index: number;
  /** Optional in the spec [SW 2025-10-01]; also dropped here when of a kind the bot does not model (MCP...). */
  readonly item?: ConversationItem;
}
export interface ResponseContentPartAddedEvent extends ResponseScoped {
  readonly type: "response.content_part.added";
  readonly part: ContentPart;
}
export interface ResponseContentPartDoneEvent extends ResponseScoped {
  readonly type: "response.content_part.done";
  readonly part: ContentPart;
}
export interface ResponseAudioDeltaEvent extends ResponseScoped {
  readonly type: "response.audio.delta";
  /** Base64 audio in `output_audio_format`. */
  readonly delta: string;
}
export interface ResponseAudioDoneEvent extends ResponseScoped {
  readonly type: "response.audio.done";
}
export interface ResponseAudioTranscriptDeltaEvent extends ResponseScoped {
  readonly type: "response.audio_transcript.delta";
  readonly delta: string;
}
/** One word of the audio, when the session asked for `output_audio_timestamp_types: ["word"]`. */
export interface ResponseAudioTimestampDeltaEvent extends ResponseScoped {
  readonly type: "response.audio_timestamp.delta";
  /** Where the word starts in the item's audio. */
  readonly audio_offset_ms: number;
  readonly audio_duration_ms: number;
  readonly text: string;
  readonly timestamp_type: "word";
}
export interface ResponseAudioTranscriptDoneEvent extends ResponseScoped {
  readonly type: "response.audio_transcript.done";
  readonly transcript: string;
}
export interface ResponseTextDeltaEvent extends ResponseScoped {
  readonly type: "response.text.delta";
  readonly delta: string;
}
export interface ResponseTextDoneEvent extends ResponseScoped {
  readonly type: "response.text.done";
  readonly text: string;
}
export interface ResponseFunctionCallArgumentsDeltaEvent extends ServerEventCommon {
  readonly type: "response.function_call_arguments.delta";
  readonly response_id: string;
  readonly item_id: string;
  readonly output_index: number;
  readonly call_id: string;
  readonly delta: string;
}
export interface ResponseFunctionCallArgumentsDoneEvent extends ServerEventCommon {
  readonly type: "response.function_call_arguments.done";
  readonly response_id: string;
  readonly item_id: string;
  readonly output_index: number;
  readonly call_id: string;
  readonly name?: string;
  /** A JSON string. */
  readonly arguments: string;
}
/** Documented in the 2025-10-01 reference text without a schema, so nothing in it is relied on. */
export interface RateLimit {
  readonly name?: string;
  readonly limit?: number;
  readonly remaining?: number;
  readonly reset_seconds?: number;
}
export interface RateLimitsUpdatedEvent extends ServerEventCommon {
  readonly type: "rate_limits.updated";
  readonly rate_limits?: readonly RateLimit[];
}

export type ServerEvent =
  | ErrorEvent
  | WarningEvent
  | SessionCreatedEvent
  | SessionUpdatedEvent
  | SpeechStartedEvent
  | SpeechStoppedEvent
  | InputAudioBufferCommittedEvent
  | InputAudioBufferClearedEvent
  | ConversationItemCreatedEvent
  | ConversationItemRetrievedEvent
  | ConversationItemTruncatedEvent
  | ConversationItemDeletedEvent
  | InputAudioTranscriptionDeltaEvent
  | InputAudioTranscriptionCompletedEvent
  | InputAudioTranscriptionFailedEvent
  | ResponseCreatedEvent
  | ResponseDoneEvent
  | ResponseOutputItemAddedEvent
  | ResponseOutputItemDoneEvent
  | ResponseContentPartAddedEvent
  | ResponseContentPartDoneEvent
  | ResponseAudioDeltaEvent
  | ResponseAudioDoneEvent
  | ResponseAudioTranscriptDeltaEvent
  | ResponseAudioTimestampDeltaEvent
  | ResponseAudioTranscriptDoneEvent
  | ResponseTextDeltaEvent
  | ResponseTextDoneEvent
  | ResponseFunctionCallArgumentsDeltaEvent
  | ResponseFunctionCallArgumentsDoneEvent
  | RateLimitsUpdatedEvent;

export type ServerEventType = ServerEvent["type"];
export type ServerEventOf<T extends ServerEventType> = Extract<ServerEvent, { type: T }>;
