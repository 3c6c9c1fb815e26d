import dgram from "node:dgram";
import { BURST_BREAK_MS, LATE_GAP_MS } from "./world-protocol.ts";

/**
 * Times every voice packet the bot process sends, per UDP socket (one per guild's connection), by
 * wrapping dgram's send in the bot process. Late frames are judged here, at the sender: the world
 * process also times arrivals, but on a shared 2-core machine its own scheduling delays show up
 * as gaps the bot did not cause (both are reported). Benchmark instrumentation only.
 */

/** RTP header + nonce + auth tag: anything shorter is a keepalive or IP discovery. */
const MIN_AUDIO_PACKET_BYTES = 12 + 4 + 16;

export interface SendStats {
  readonly packets: number;
  /** Gaps between consecutive packets of a burst longer than LATE_GAP_MS. */
  readonly lateGaps: number;
  readonly maxGapMs: number;
}

export class SendMonitor {
  readonly #lastSentAt = new WeakMap<object, number>();
  #packets = 0;
  #lateGaps = 0;
  #maxGapMs = 0;
  readonly #original: typeof dgram.Socket.prototype.send;

  constructor() {
    const monitor = this;
    const original = dgram.Socket.prototype.send;
    this.#original = original;
    dgram.Socket.prototype.send = function send(this: dgram.Socket, message: unknown, ...rest: unknown[]) {
      if (message instanceof Uint8Array && message.length >= MIN_AUDIO_PACKET_BYTES) monitor.#sent(this);
      return (original as (...args: unknown[]) => void).call(this, message, ...rest);
    } as typeof original;
  }

  reset(): void {
    this.#packets = 0;
    this.#lateGaps = 0;
    this.#maxGapMs = 0;
  }

  stats(): SendStats {
    return {
      packets: this.#packets,
      lateGaps: this.#lateGaps,
      maxGapMs: Math.round(this.#maxGapMs * 100) / 100,
    };
  }

  uninstall(): void {
    dgram.Socket.prototype.send = this.#original;
  }

  #sent(socket: object): void {
    const now = performance.now();
    const last = this.#lastSentAt.get(socket);
    this.#lastSentAt.set(socket, now);
    this.#packets++;
    if (last === undefined) return;
    const gap = now - last;
    if (gap >= BURST_BREAK_MS) return;
    if (gap > LATE_GAP_MS) this.#lateGaps++;
    if (gap > this.#maxGapMs) this.#maxGapMs = gap;
  }
}
