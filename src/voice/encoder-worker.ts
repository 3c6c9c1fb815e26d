import { Worker } from "node:worker_threads";
import { InlineOutputEncoder, type OutputEncoder, type OutputEncoderSink } from "../audio/output-encoder.ts";
import { type Logger, log } from "../log.ts";

/**
 * One worker thread per process (encoder-thread.ts) that encodes every conversation's output.
 *
 * Why: encoding a 20 ms frame costs about 180 us of Opus plus 30 us of resampling, and it ran
 * inside @discordjs/voice's audio cycle, which prepares each guild's next packet in turn (one
 * setImmediate each) and only schedules the next 20 ms cycle after the last guild. With 50+ guilds
 * speaking, that chain outgrew 20 ms and every guild's packets left late (bench "capacity").
 * Encoding ahead on a worker leaves the cycle a queue shift and the packet encryption.
 *
 * The worker starts with the first stream and stops with the last, so an idle process holds no
 * thread. If it fails, every stream falls back to encoding on the main thread (logged once); the
 * frames that were on the worker are reported lost.
 */

export type EncoderRequest =
  | {
      readonly op: "encode";
      readonly stream: number;
      readonly generation: number;
      readonly pcm: Int16Array;
      readonly gain: number;
    }
  | { readonly op: "reset"; readonly stream: number }
  | { readonly op: "close"; readonly stream: number };

export type EncoderReply =
  | { readonly stream: number; readonly generation: number; readonly packet: Uint8Array }
  | { readonly stream: number; readonly generation: number; readonly error: string };

class WorkerStream implements OutputEncoder {
  readonly #owner: EncoderWorker;
  readonly #id: number;
  readonly #sink: OutputEncoderSink;
  /** Bumped by reset(): replies to older requests are dropped. */
  #generation = 0;
  #inFlight = 0;
  #inline: InlineOutputEncoder | undefined;

  constructor(owner: EncoderWorker, id: number, sink: OutputEncoderSink) {
    this.#owner = owner;
    this.#id = id;
    this.#sink = sink;
  }

  encode(pcm24k: Int16Array, gain: number): void {
    if (this.#inline !== undefined) {
      this.#inline.encode(pcm24k, gain);
      return;
    }
    // Structured clone copies a view's whole buffer: send only the frame.
    const pcm = pcm24k.byteLength === pcm24k.buffer.byteLength ? pcm24k : pcm24k.slice();
    this.#inFlight++;
    this.#owner.post({ op: "encode", stream: this.#id, generation: this.#generation, pcm, gain });
  }

  reset(): void {
    if (this.#inline !== undefined) {
      this.#inline.reset();
      return;
    }
    this.#generation++;
    this.#inFlight = 0;
    this.#owner.post({ op: "reset", stream: this.#id });
  }

  destroy(): void {
    this.#inline?.destroy();
    this.#owner.close(this.#id);
  }

  deliver(reply: EncoderReply): void {
    if (reply.generation !== this.#generation) return;
    this.#inFlight--;
    if ("error" in reply) {
      this.#owner.logger.error({ error: reply.error }, "output frame not encoded");
      this.#sink.lost(1);
      return;
    }
    const { packet } = reply;
    this.#sink.packet(Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength));
  }

  fallBack(): void {
    const lost = this.#inFlight;
    this.#inFlight = 0;
    this.#generation++;
    this.#inline = new InlineOutputEncoder(this.#sink);
    if (lost > 0) this.#sink.lost(lost);
  }
}

export class EncoderWorker {
  readonly logger: Logger;
  readonly #streams = new Map<number, WorkerStream>();
  #worker: Worker | undefined;
  #failed = false;
  #nextId = 1;

  constructor(logger: Logger = log) {
    this.logger = logger.child({ component: "encoder-worker" });
  }

  /** An encoder for one output stream; on the main thread if the worker cannot be used. */
  open(sink: OutputEncoderSink): OutputEncoder {
    const worker = this.#ensureWorker();
    if (worker === undefined) return new InlineOutputEncoder(sink);
    const id = this.#nextId++;
    const stream = new WorkerStream(this, id, sink);
    this.#streams.set(id, stream);
    return stream;
  }

  post(request: EncoderRequest): void {
    this.#worker?.postMessage(request);
  }

  close(id: number): void {
    if (!this.#streams.delete(id)) return;
    this.post({ op: "close", stream: id });
    if (this.#streams.size > 0 || this.#worker === undefined) return;
    const worker = this.#worker;
    this.#worker = undefined;
    void worker.terminate();
  }

  #ensureWorker(): Worker | undefined {
    if (this.#failed) return undefined;
    if (this.#worker !== undefined) return this.#worker;
    try {
      const worker = new Worker(new URL("./encoder-thread.ts", import.meta.url));
      // Conversations keep the process alive, not their encoder.
      worker.unref();
      worker.on("message", (reply: EncoderReply) => this.#streams.get(reply.stream)?.deliver(reply));
      // A worker terminated after its last stream closed is no longer this.#worker: not a failure.
      worker.on("error", (error) => {
        if (this.#worker === worker) this.#fail(error);
      });
      worker.on("exit", (code) => {
        if (this.#worker === worker) this.#fail(new Error(`encoder worker exited with code ${code}`));
      });
      this.#worker = worker;
      return worker;
    } catch (error) {
      this.#fail(error);
      return undefined;
    }
  }

  #fail(error: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#worker = undefined;
    this.logger.error({ err: error }, "encoder worker failed; encoding on the main thread from now on");
    for (const stream of this.#streams.values()) stream.fallBack();
  }
}

let shared: EncoderWorker | undefined;

/** The process's encoder worker, started on first use. */
export function sharedEncoderWorker(): EncoderWorker {
  shared ??= new EncoderWorker();
  return shared;
}
