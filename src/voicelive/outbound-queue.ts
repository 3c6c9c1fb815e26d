/**
 * The client's send path with bounded memory. Frames go straight to the socket while its buffer
 * holds less than `limitBytes`; past that they wait here in order. Waiting audio is capped at
 * `limitBytes` too: the oldest audio is dropped (and counted) to make room, control events never
 * are. So however long the socket stalls, at most about twice the limit of audio is held.
 */

export interface OutboundTransport {
  readonly bufferedAmount: number;
  send(data: string, callback: (err?: Error) => void): void;
}

interface Pending {
  readonly data: string;
  /** Audio duration, or -1 for a control event. */
  readonly audioMs: number;
}

export class OutboundQueue {
  readonly limitBytes: number;
  readonly #transport: OutboundTransport;
  readonly #pending: Pending[] = [];
  #queuedAudioBytes = 0;
  #queuedControlBytes = 0;
  #droppedAudioMs = 0;
  /** Bound once: the socket's write callback, which is when its buffer has room again. */
  readonly #onWritten = (): void => this.drain();

  constructor(transport: OutboundTransport, limitBytes: number) {
    this.#transport = transport;
    this.limitBytes = limitBytes;
  }

  get queuedBytes(): number {
    return this.#queuedAudioBytes + this.#queuedControlBytes;
  }

  get droppedAudioMs(): number {
    return this.#droppedAudioMs;
  }

  sendControl(data: string): void {
    if (this.#pending.length === 0 && this.#transport.bufferedAmount < this.limitBytes) {
      this.#transport.send(data, this.#onWritten);
      return;
    }
    this.#pending.push({ data, audioMs: -1 });
    this.#queuedControlBytes += data.length;
  }

  sendAudio(data: string, audioMs: number): void {
    if (this.#pending.length === 0 && this.#transport.bufferedAmount < this.limitBytes) {
      this.#transport.send(data, this.#onWritten);
      return;
    }
    this.#pending.push({ data, audioMs });
    this.#queuedAudioBytes += data.length;
    while (this.#queuedAudioBytes > this.limitBytes) {
      if (!this.#dropOldestAudio()) break;
    }
    this.drain();
  }

  /** Hands waiting frames to the socket while its buffer has room. */
  drain(): void {
    while (this.#pending.length > 0 && this.#transport.bufferedAmount < this.limitBytes) {
      const next = this.#pending.shift()!;
      if (next.audioMs < 0) this.#queuedControlBytes -= next.data.length;
      else this.#queuedAudioBytes -= next.data.length;
      this.#transport.send(next.data, this.#onWritten);
    }
  }

  /** Forgets everything waiting (the socket is gone); waiting audio counts as dropped. */
  discard(): void {
    for (const pending of this.#pending) {
      if (pending.audioMs >= 0) this.#countDropped(pending.audioMs);
    }
    this.#pending.length = 0;
    this.#queuedAudioBytes = 0;
    this.#queuedControlBytes = 0;
  }

  #dropOldestAudio(): boolean {
    const index = this.#pending.findIndex((p) => p.audioMs >= 0);
    if (index < 0) return false;
    const [dropped] = this.#pending.splice(index, 1);
    this.#queuedAudioBytes -= dropped!.data.length;
    this.#countDropped(dropped!.audioMs);
    return true;
  }

  #countDropped(audioMs: number): void {
    this.#droppedAudioMs += audioMs;
  }
}
