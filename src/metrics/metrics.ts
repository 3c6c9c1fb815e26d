import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/**
 * The process's Prometheus metrics. Per-frame counters are plain increments; the conversation layer
 * holds one `Metrics` and the HTTP server (metrics/server.ts) exposes its registry.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly activeConversations = new Gauge({
    name: "voicelive_active_conversations",
    help: "Conversations (guilds with the bot in a voice channel)",
    registers: [this.registry],
  });
  readonly framesIn = new Counter({
    name: "voicelive_discord_frames_received_total",
    help: "Opus frames received from Discord speakers",
    registers: [this.registry],
  });
  readonly framesAppended = new Counter({
    name: "voicelive_frames_appended_total",
    help: "20 ms mixed frames appended to Voice Live",
    registers: [this.registry],
  });
  readonly framesOut = new Counter({
    name: "voicelive_discord_frames_sent_total",
    help: "Opus frames of bot speech that reached the Discord voice connection",
    registers: [this.registry],
  });
  readonly droppedFrames = new Counter({
    name: "voicelive_dropped_frames_total",
    help: "Audio frames dropped, by stage: jitter_queue (a speaker's queue full), voicelive_send (send buffer full or Voice Live down), playback_buffer (answer over the 5-minute cap), decode_error, dave_decrypt (a speaker's DAVE frames the bot could not decrypt)",
    labelNames: ["stage"] as const,
    registers: [this.registry],
  });
  readonly bargeIns = new Counter({
    name: "voicelive_barge_ins_total",
    help: "Times a user interrupted the bot",
    registers: [this.registry],
  });
  readonly inputLatency = new Histogram({
    name: "voicelive_bridge_input_latency_seconds",
    help: "Time our code holds an input frame: Discord packet in -> append sent",
    buckets: [0.005, 0.01, 0.02, 0.025, 0.03, 0.04, 0.06, 0.1, 0.2],
    registers: [this.registry],
  });
  readonly outputLatency = new Histogram({
    name: "voicelive_bridge_output_latency_seconds",
    help: "Time our code holds an output frame beyond its playout slot: delta in -> RTP packet out",
    buckets: [0.005, 0.01, 0.02, 0.03, 0.04, 0.06, 0.1, 0.2, 0.5],
    registers: [this.registry],
  });
  readonly responseLatency = new Histogram({
    name: "voicelive_response_latency_seconds",
    help: "End of the user's speech -> the bot's first audio packet in the channel",
    buckets: [0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10],
    registers: [this.registry],
  });
  readonly reconnects = new Counter({
    name: "voicelive_reconnects_total",
    help: "Reconnections, by side (voicelive, discord)",
    labelNames: ["side"] as const,
    registers: [this.registry],
  });
  readonly voiceLiveErrors = new Counter({
    name: "voicelive_service_errors_total",
    help: "Voice Live error events, by code",
    labelNames: ["code"] as const,
    registers: [this.registry],
  });
  readonly tokens = new Counter({
    name: "voicelive_tokens_total",
    help: "Tokens reported in response.done usage, by direction",
    labelNames: ["direction"] as const,
    registers: [this.registry],
  });

  /** `labels`: added to every series (a shard process: its `shard`). */
  constructor(options: { processMetrics?: boolean; labels?: Readonly<Record<string, string>> } = {}) {
    if (options.labels !== undefined) this.registry.setDefaultLabels({ ...options.labels });
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }
}
