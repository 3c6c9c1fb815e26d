/**
 * One response from creation to `response.done`: the event sequence of the real service, with the
 * reply's audio streamed in `chunkMs` deltas `speed` times faster than real time (as the service
 * generates faster than playback). It can be cancelled at any point and then closes every open
 * part, marking the item incomplete, exactly as the service does on barge-in.
 */
import type {
  ContentPart,
  MessageItem,
  Modality,
  OutputAudioFormat,
  RealtimeResponse,
  ResponseStatus,
  ServerEvent,
  Usage,
  Voice,
} from "../voicelive/protocol.ts";
import { encodeOutput, outputRateOf } from "./audio-format.ts";
import type { Reply } from "./reply.ts";

export type CancelReason = "turn_detected" | "client_cancelled";

export interface ResponsePlan {
  readonly responseId: string;
  readonly itemId: string;
  readonly conversationId: string;
  /** The conversation item the assistant item follows. */
  readonly previousItemId: string | null;
  readonly modalities: readonly Modality[];
  readonly voice: Voice | undefined;
  readonly outputFormat: OutputAudioFormat;
  readonly temperature: number | undefined;
  readonly maxOutputTokens: number | "inf";
  readonly metadata: Readonly<Record<string, string>> | null;
  /** Audio at the output format's rate. */
  readonly reply: Reply;
  readonly inputTokens: { readonly text: number; readonly audio: number };
  readonly speed: number;
  readonly chunkMs: number;
  /** Send `response.audio_timestamp.delta` for each word (the session asked for word timestamps). */
  readonly wordTimestamps: boolean;
}

interface ResponseScope {
  readonly response_id: string;
  readonly item_id: string;
  readonly output_index: number;
  readonly content_index: number;
}

interface WordTiming {
  readonly text: string;
  readonly offsetMs: number;
  readonly durationMs: number;
}

export interface ResponseOutcome {
  readonly status: ResponseStatus;
  readonly item: MessageItem;
  /** Assistant audio delivered to the client. */
  readonly audioMs: number;
}

export interface ResponseSink {
  send(event: ServerEvent): void;
  /** Called once, right after `response.done`. */
  finished(outcome: ResponseOutcome): void;
}

/** OpenAI's realtime models bill about 20 audio tokens per second of output. */
const OUTPUT_AUDIO_TOKENS_PER_SECOND = 20;

export class ResponseRun {
  readonly #plan: ResponsePlan;
  readonly #sink: ResponseSink;
  readonly #withAudio: boolean;
  readonly #outputRate: number;
  readonly #chunkSamples: number;
  readonly #intervalMs: number;
  readonly #pcm: Int16Array;
  readonly #words: string[];
  /** When each word is said: spread evenly over the reply's audio (the echo has no real timing). */
  readonly #timings: readonly WordTiming[];
  readonly #cutByTokenLimit: boolean;
  #sentTimings = 0;
  #sentSamples = 0;
  #sentWords = 0;
  #ticks = 0;
  #startedAt = 0;
  #firstAudioAt: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #done = false;

  constructor(plan: ResponsePlan, sink: ResponseSink) {
    this.#plan = plan;
    this.#sink = sink;
    this.#withAudio = plan.modalities.includes("audio");
    this.#outputRate = outputRateOf(plan.outputFormat);
    this.#chunkSamples = Math.max(1, Math.round((plan.chunkMs * this.#outputRate) / 1000));
    this.#intervalMs = plan.chunkMs / plan.speed;
    const maxSamples =
      plan.maxOutputTokens === "inf"
        ? Number.POSITIVE_INFINITY
        : Math.floor((plan.maxOutputTokens / OUTPUT_AUDIO_TOKENS_PER_SECOND) * this.#outputRate);
    this.#cutByTokenLimit = this.#withAudio && plan.reply.pcm.length > maxSamples;
    this.#pcm = this.#cutByTokenLimit ? plan.reply.pcm.subarray(0, maxSamples) : plan.reply.pcm;
    this.#words = plan.reply.transcript.split(/(?<=\s)/);
    this.#timings =
      plan.wordTimestamps && this.#withAudio
        ? wordTimings(this.#words, this.#pcm.length, this.#outputRate)
        : [];
  }

  get id(): string {
    return this.#plan.responseId;
  }

  get itemId(): string {
    return this.#plan.itemId;
  }

  get audioMsSent(): number {
    return (this.#sentSamples / this.#outputRate) * 1000;
  }

  /** How much the client can have played by `now`, assuming playback at real time from the first delta. */
  playedMsEstimate(now: number): number {
    if (this.#firstAudioAt === undefined) return 0;
    return Math.min(this.audioMsSent, Math.max(0, now - this.#firstAudioAt));
  }

  start(): void {
    const plan = this.#plan;
    this.#startedAt = performance.now();
    this.#sink.send({ type: "response.created", response: this.#response("in_progress", null, [], null) });
    const item = this.#item("in_progress", []);
    this.#sink.send({
      type: "response.output_item.added",
      response_id: plan.responseId,
      output_index: 0,
      item,
    });
    this.#sink.send({ type: "conversation.item.created", previous_item_id: plan.previousItemId, item });
    this.#sink.send({ type: "response.content_part.added", ...this.#scope(), part: this.#part("") });
    this.#tick();
  }

  cancel(reason: CancelReason): void {
    if (this.#done) return;
    this.#finish("cancelled", reason);
  }

  /** Stops without a word to the client: the socket is gone. */
  abort(): void {
    this.#done = true;
    clearTimeout(this.#timer);
  }

  #tick = (): void => {
    if (this.#done) return;
    const plan = this.#plan;
    const scope = this.#scope();
    if (this.#sentWords < this.#words.length) {
      const delta = this.#words[this.#sentWords++]!;
      this.#sink.send({
        type: this.#withAudio ? "response.audio_transcript.delta" : "response.text.delta",
        ...scope,
        delta,
      });
    }
    if (this.#withAudio && this.#sentSamples < this.#pcm.length) {
      const chunk = this.#pcm.subarray(this.#sentSamples, this.#sentSamples + this.#chunkSamples);
      this.#firstAudioAt ??= performance.now();
      this.#sentSamples += chunk.length;
      this.#sink.send({
        type: "response.audio.delta",
        ...scope,
        delta: encodeOutput(chunk, plan.outputFormat).toString("base64"),
      });
      this.#sendTimings(scope);
    }
    if (
      this.#sentWords >= this.#words.length &&
      (!this.#withAudio || this.#sentSamples >= this.#pcm.length)
    ) {
      this.#finish(
        this.#cutByTokenLimit ? "incomplete" : "completed",
        this.#cutByTokenLimit ? "max_output_tokens" : undefined,
      );
      return;
    }
    this.#ticks++;
    const due = this.#startedAt + this.#ticks * this.#intervalMs;
    this.#timer = setTimeout(this.#tick, Math.max(0, due - performance.now()));
  };

  /** The timestamps of the words whose audio has started, as the audio goes out. */
  #sendTimings(scope: ResponseScope): void {
    const sentMs = this.audioMsSent;
    while (this.#sentTimings < this.#timings.length && this.#timings[this.#sentTimings]!.offsetMs < sentMs) {
      const word = this.#timings[this.#sentTimings++]!;
      this.#sink.send({
        type: "response.audio_timestamp.delta",
        ...scope,
        audio_offset_ms: word.offsetMs,
        audio_duration_ms: word.durationMs,
        text: word.text,
        timestamp_type: "word",
      });
    }
  }

  #finish(status: ResponseStatus, reason: string | undefined): void {
    this.#done = true;
    clearTimeout(this.#timer);
    const plan = this.#plan;
    const scope = this.#scope();
    const said = this.#words.slice(0, status === "completed" ? this.#words.length : this.#sentWords).join("");
    if (this.#withAudio) {
      this.#sink.send({ type: "response.audio.done", ...scope });
      this.#sink.send({ type: "response.audio_transcript.done", ...scope, transcript: said });
    } else {
      this.#sink.send({ type: "response.text.done", ...scope, text: said });
    }
    const part = this.#part(said);
    this.#sink.send({ type: "response.content_part.done", ...scope, part });
    const item = this.#item(status === "completed" ? "completed" : "incomplete", [part]);
    this.#sink.send({
      type: "response.output_item.done",
      response_id: plan.responseId,
      output_index: 0,
      item,
    });
    const details =
      status === "completed" ? null : { type: status, ...(reason !== undefined ? { reason } : {}) };
    this.#sink.send({
      type: "response.done",
      response: this.#response(status, details, [item], this.#usage(said)),
    });
    this.#sink.finished({ status, item, audioMs: this.audioMsSent });
  }

  #scope(): ResponseScope {
    return {
      response_id: this.#plan.responseId,
      item_id: this.#plan.itemId,
      output_index: 0,
      content_index: 0,
    };
  }

  #part(text: string): ContentPart {
    return this.#withAudio ? { type: "audio", transcript: text } : { type: "text", text };
  }

  #item(status: MessageItem["status"], content: readonly ContentPart[]): MessageItem {
    return {
      id: this.#plan.itemId,
      object: "realtime.item",
      type: "message",
      status,
      role: "assistant",
      content,
    };
  }

  #response(
    status: ResponseStatus,
    details: RealtimeResponse["status_details"],
    output: readonly MessageItem[],
    usage: Usage | null,
  ): RealtimeResponse {
    const plan = this.#plan;
    return {
      id: plan.responseId,
      object: "realtime.response",
      status,
      status_details: details,
      output,
      usage,
      conversation_id: plan.conversationId,
      ...(plan.voice !== undefined ? { voice: plan.voice } : {}),
      modalities: plan.modalities,
      output_audio_format: plan.outputFormat,
      ...(plan.temperature !== undefined ? { temperature: plan.temperature } : {}),
      max_output_tokens: plan.maxOutputTokens,
      metadata: plan.metadata,
    };
  }

  #usage(said: string): Usage {
    const { text, audio } = this.#plan.inputTokens;
    const outputText = Math.ceil(said.length / 4);
    const outputAudio = Math.round((this.audioMsSent / 1000) * OUTPUT_AUDIO_TOKENS_PER_SECOND);
    return {
      total_tokens: text + audio + outputText + outputAudio,
      input_tokens: text + audio,
      output_tokens: outputText + outputAudio,
      // The official SDK fails to read a usage without every one of these details.
      input_token_details: {
        cached_tokens: 0,
        text_tokens: text,
        audio_tokens: audio,
        image_tokens: 0,
        cached_tokens_details: { text_tokens: 0, audio_tokens: 0, image_tokens: 0 },
      },
      output_token_details: { text_tokens: outputText, audio_tokens: outputAudio },
    };
  }
}

function wordTimings(words: readonly string[], samples: number, rate: number): WordTiming[] {
  const spoken = words.map((word) => word.trim()).filter((word) => word !== "");
  const totalMs = (samples / rate) * 1000;
  const each = spoken.length === 0 ? 0 : totalMs / spoken.length;
  // Rounded at the boundaries, so each word starts exactly where the one before it ends.
  return spoken.map((text, k) => {
    const offsetMs = Math.round(k * each);
    return { text, offsetMs, durationMs: Math.round((k + 1) * each) - offsetMs };
  });
}
