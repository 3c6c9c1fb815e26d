import type { ResponseAudioDeltaEvent, ServerEventOf, ServerEventType, SessionInfo } from "./protocol.ts";

/**
 * What a Voice Live session tells its user: the service's events (audio deltas already decoded)
 * and the session's own lifecycle. The bridge's realtime port is defined in these terms.
 */

export type SessionState = "idle" | "connecting" | "ready" | "reconnecting" | "closing" | "closed" | "failed";

export type ServerEventListeners = {
  [K in Exclude<ServerEventType, "response.audio.delta">]: (event: ServerEventOf<K>) => void;
} & {
  /** `pcm` is a reused buffer, valid until the listener returns: copy what you keep. */
  "response.audio.delta": (event: ResponseAudioDeltaEvent, pcm: Int16Array) => void;
};

export interface ReconnectingInfo {
  /** 1 for the first retry after a failure or drop. */
  readonly attempt: number;
  readonly delayMs: number;
  readonly reason: string;
}

export interface SessionLifecycleListeners {
  state: (state: SessionState, previous: SessionState) => void;
  /** A retry is scheduled (after a drop, or a failed first connect). */
  reconnecting: (info: ReconnectingInfo) => void;
  /** Back after a drop, with the configuration re-applied; the conversation history is new. */
  reconnected: (info: { readonly attempts: number; readonly session: SessionInfo }) => void;
  /** Swapped to a fresh session before the time limit (or for a voice change). */
  rollover: (info: { readonly reason: string; readonly session: SessionInfo }) => void;
  /** Given up; `message` says why in words a server admin can act on. */
  failed: (info: { readonly message: string }) => void;
}

export type VoiceLiveSessionEvents = ServerEventListeners & SessionLifecycleListeners;

export type SessionUpdateOutcome =
  | { readonly outcome: "unchanged" | "applied" | "restarted" }
  /** Not connected right now: applied on the next connect. */
  | { readonly outcome: "deferred" }
  | { readonly outcome: "invalid"; readonly problems: readonly string[] }
  | { readonly outcome: "rejected"; readonly message: string };
