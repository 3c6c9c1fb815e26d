/**
 * The test-facing side of a connection: a record of what the client sent, and a transport that can
 * misbehave on request (delay every event, close after N frames, stall reading, send garbage).
 */
import type { WebSocket } from "ws";
import type { Logger } from "../log.ts";
import type { ServerEvent } from "../voicelive/protocol.ts";
import type { ClientTraffic, SessionTransport } from "./session.ts";

/** Types beyond this many are counted but not listed, so a long soak does not grow without bound. */
const MAX_LOGGED_TYPES = 100_000;
/** A client this far behind on reading is not coming back; the connection is dropped. */
const MAX_BUFFERED_BYTES = 32 * 1024 * 1024;

/** What one session's client sent, in order. */
export class ClientEventLog implements ClientTraffic {
  readonly sessionId: string;
  /** Date.now() when the connection was accepted (tests check connection rates with it). */
  readonly connectedAt = Date.now();
  /** Client event types in arrival order (`(invalid)` / `(binary)` for unreadable frames). */
  readonly types: string[] = [];
  /** Types that arrived after {@link MAX_LOGGED_TYPES} and are not in `types`. */
  unlistedTypes = 0;
  /** Decoded PCM16 bytes appended (at the session's input rate). */
  pcmBytes = 0;
  /** Duration of the audio appended. */
  audioMs = 0;
  open = true;

  constructor(sessionId: string) {
    this.sessionId = sessionId;
  }

  recordEvent(type: string): void {
    if (this.types.length < MAX_LOGGED_TYPES) this.types.push(type);
    else this.unlistedTypes++;
  }

  recordAudio(pcmBytes: number, ms: number): void {
    this.pcmBytes += pcmBytes;
    this.audioMs += ms;
  }
}

interface QueuedFrame {
  readonly due: number;
  readonly text: string;
}

export interface CloseAfter {
  readonly frames: number;
  readonly code: number;
}

/**
 * Sends events to one socket, in order, applying the faults in force. Every frame (events and raw
 * text alike) passes the same queue, so a delay never reorders anything.
 */
export class FaultyTransport implements SessionTransport {
  readonly #ws: WebSocket;
  readonly #log: Logger;
  readonly #delayMs: () => number;
  readonly #queue: QueuedFrame[] = [];
  #timer: NodeJS.Timeout | undefined;
  #closeAfter: { remaining: number; code: number } | undefined;
  #closing = false;

  constructor(ws: WebSocket, log: Logger, delayMs: () => number) {
    this.#ws = ws;
    this.#log = log;
    this.#delayMs = delayMs;
  }

  send(event: ServerEvent): void {
    this.sendRaw(JSON.stringify(event));
  }

  sendRaw(text: string): void {
    if (this.#closing) return;
    const delay = this.#delayMs();
    if (delay <= 0 && this.#queue.length === 0) {
      this.#write(text);
      return;
    }
    const lastDue = this.#queue.at(-1)?.due ?? 0;
    this.#queue.push({ due: Math.max(performance.now() + delay, lastDue), text });
    this.#schedule();
  }

  /** Closes the socket after `frames` more frames have been written (0: now). */
  closeAfter(fault: CloseAfter): void {
    if (fault.frames <= 0) this.close(fault.code, "fault injection");
    else this.#closeAfter = { remaining: fault.frames, code: fault.code };
  }

  close(code: number, reason: string): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#dropQueue();
    this.#ws.close(code, reason);
  }

  terminate(): void {
    this.#closing = true;
    this.#dropQueue();
    this.#ws.terminate();
  }

  /** The socket closed: forget whatever was still waiting. */
  dispose(): void {
    this.#closing = true;
    this.#dropQueue();
  }

  #dropQueue(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue.length = 0;
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#queue.length === 0) return;
    this.#timer = setTimeout(this.#pump, Math.max(0, this.#queue[0]!.due - performance.now()));
  }

  #pump = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    while (this.#queue.length > 0 && this.#queue[0]!.due <= now && !this.#closing)
      this.#write(this.#queue.shift()!.text);
    this.#schedule();
  };

  #write(text: string): void {
    if (this.#ws.readyState !== this.#ws.OPEN) return;
    if (this.#ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.#log.warn(
        { bufferedBytes: this.#ws.bufferedAmount },
        "client is not reading; dropping the connection",
      );
      this.terminate();
      return;
    }
    this.#ws.send(text);
    const closeAfter = this.#closeAfter;
    if (closeAfter !== undefined && --closeAfter.remaining === 0) {
      this.#closeAfter = undefined;
      this.close(closeAfter.code, "fault injection");
    }
  }
}
