/**
 * The IPC protocol between a benchmark's bot process and its "world" child process (bench/world.ts),
 * which runs the loopback Discord voice server and the local Voice Live server. Messages use
 * `serialization: "advanced"` (structured clone), so typed arrays cross as they are.
 */

/** Sent once by the world when both servers listen. */
export interface WorldReady {
  readonly type: "ready";
  /** host:port of the loopback voice gateway, as a VOICE_SERVER_UPDATE carries it. */
  readonly voiceEndpoint: string;
  /** http://127.0.0.1:<port> of the local Voice Live server. */
  readonly voiceLiveUrl: string;
  readonly apiKey: string;
  /** Frames in each pre-encoded speech clip, by clip index. */
  readonly clipFrames: readonly number[];
}

export type WorldCommand =
  /** Creates the guild, puts the users in its channel and issues the bot's voice token. */
  | {
      readonly type: "prepare";
      readonly guildId: string;
      readonly channelId: string;
      readonly botUserId: string;
      readonly userIds: readonly string[];
    }
  /** Sends a pre-encoded clip (optionally its first `frames` frames) paced at 20 ms; replies when done. */
  | {
      readonly type: "speak";
      readonly guildId: string;
      readonly userId: string;
      readonly clip: number;
      readonly frames?: number;
    }
  /** The world's performance.now(), for clock offset estimation. */
  | { readonly type: "now" }
  /** Keep every bot packet's arrival time for these guilds (bridge measurements). */
  | { readonly type: "record"; readonly guildIds: readonly string[] }
  /** The recorded arrival times of one guild's bot packets. */
  | { readonly type: "packets"; readonly guildId: string }
  /** Zeroes the per-guild packet statistics and the world's own load figures (window start). */
  | { readonly type: "resetStats" }
  | { readonly type: "stats" }
  | { readonly type: "close" };

export interface WorldRequest {
  readonly id: number;
  readonly command: WorldCommand;
}

export interface PacketLog {
  /** World performance.now() of each bot packet's arrival, in order. */
  readonly at: Float64Array;
  /** 1 where the packet was Discord's 3-byte silence frame. */
  readonly silent: Uint8Array;
}

/** Bot packets seen by the world since the last resetStats, summed over guilds. */
export interface PacketStats {
  readonly packets: number;
  readonly nonSilent: number;
  /** Gaps between consecutive packets of a burst longer than LATE_GAP_MS. */
  readonly lateGaps: number;
  /** Silence frames inside a burst followed by more speech: the player ran dry. */
  readonly underruns: number;
  readonly maxGapMs: number;
  /** Speech frames the simulated users sent since the guild was prepared (never reset). */
  readonly userFramesSent: number;
}

export interface WorldStats extends PacketStats {
  /** The world's own event-loop delay p99 over the window: high values make its timings suspect. */
  readonly worldLoopDelayP99Ms: number;
  /** CPU the world used over the window, percent of one core. */
  readonly worldCpuPercent: number;
  readonly perGuild: Readonly<Record<string, PacketStats>>;
}

export type WorldReply =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string };

export type WorldMessage = WorldReady | WorldReply;

/** A gap this long between two packets of a burst means a frame went out late. */
export const LATE_GAP_MS = 30;
/** A longer silence than this between packets starts a new burst (the player went idle). */
export const BURST_BREAK_MS = 200;
