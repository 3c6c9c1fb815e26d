/** A raw WebSocket Voice Live client for the local server's tests, and the speech fixtures. */
import { readFileSync } from "node:fs";
import WebSocket from "ws";
import { correlationAtLag } from "../../src/audio/analysis.ts";
import { createInputResampler } from "../../src/audio/resample.ts";
import { readWav } from "../../src/audio/wav.ts";
import type { ServerEvent, ServerEventOf, ServerEventType } from "../../src/voicelive/protocol.ts";

export const FIXTURES = new URL("../fixtures/", import.meta.url);

/** A fixture (48 kHz mono PCM16) at 24 or 16 kHz. */
export function loadSpeech(name: string, rate: 24_000 | 16_000 = 24_000): Int16Array {
  const wav = readWav(readFileSync(new URL(name, FIXTURES)));
  if (wav.sampleRate !== 48_000 || wav.channels !== 1) throw new Error(`${name}: expected 48 kHz mono`);
  return createInputResampler(rate).process(wav.samples).slice();
}

export function pcmToBase64(pcm: Int16Array): string {
  return Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength).toString("base64");
}

export function base64ToPcm(b64: string): Int16Array {
  const bytes = Buffer.from(b64, "base64");
  return new Int16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
}

export function concatPcm(parts: readonly Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Peak normalised cross-correlation of two signals over lags in [-maxLag, maxLag]. */
export function peakCorrelation(a: Int16Array, b: Int16Array, maxLag: number): number {
  let best = -1;
  for (let lag = -maxLag; lag <= maxLag; lag++) best = Math.max(best, correlationAtLag(a, b, lag));
  return best;
}

export interface ConnectOptions {
  readonly query?: Readonly<Record<string, string>>;
  readonly headers?: Readonly<Record<string, string>>;
  readonly path?: string;
}

const DEFAULT_QUERY = { "api-version": "2025-10-01", model: "gpt-realtime" };

function realtimeUrl(base: string, options: ConnectOptions): string {
  const url = new URL(options.path ?? "/voice-live/realtime", base.replace(/^http/, "ws"));
  for (const [k, v] of Object.entries(options.query ?? DEFAULT_QUERY)) url.searchParams.set(k, v);
  return url.toString();
}

/** What the server answered instead of upgrading. */
export function expectRefusal(
  base: string,
  options: ConnectOptions = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(realtimeUrl(base, options), { headers: options.headers });
    ws.on("open", () => {
      ws.close();
      reject(new Error("the connection was accepted"));
    });
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => {
        body += chunk.toString("utf8");
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on("error", () => {});
  });
}

export class TestClient {
  readonly events: ServerEvent[] = [];
  readonly raw: string[] = [];
  readonly ws: WebSocket;
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: (() => void)[] = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on("message", (data: Buffer) => {
      const text = data.toString("utf8");
      this.raw.push(text);
      try {
        this.events.push(JSON.parse(text) as ServerEvent);
      } catch {
        // Malformed frames stay in `raw` only.
      }
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => {
      ws.on("close", (code, reason) => {
        resolve({ code, reason: reason.toString("utf8") });
        for (const wake of this.#waiters.splice(0)) wake();
      });
    });
  }

  static connect(base: string, options: ConnectOptions = {}): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(realtimeUrl(base, options), { headers: options.headers });
      const client = new TestClient(ws);
      ws.once("open", () => resolve(client));
      ws.once("error", reject);
    });
  }

  send(event: Record<string, unknown>): void {
    this.ws.send(JSON.stringify(event));
  }

  /** Appends `pcm` in `chunkMs` pieces (as fast as the socket takes them). */
  appendPcm(pcm: Int16Array, rate: number, chunkMs = 20): void {
    const step = (rate * chunkMs) / 1000;
    for (let i = 0; i < pcm.length; i += step) {
      this.send({ type: "input_audio_buffer.append", audio: pcmToBase64(pcm.subarray(i, i + step)) });
    }
  }

  /** The events of one type received so far, optionally only those after index `from`. */
  all<T extends ServerEventType>(type: T, from = 0): ServerEventOf<T>[] {
    return this.events.slice(from).filter((e): e is ServerEventOf<T> => e.type === type);
  }

  /** Resolves with the first event of `type` (at index >= `from`) matching `where`. */
  async waitFor<T extends ServerEventType>(
    type: T,
    where: (event: ServerEventOf<T>) => boolean = () => true,
    from = 0,
    timeoutMs = 15_000,
  ): Promise<ServerEventOf<T>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.all(type, from).find(where);
      if (found !== undefined) return found;
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`closed before ${type} arrived`);
      const remaining = deadline - Date.now();
      if (remaining <= 0)
        throw new Error(`timed out waiting for ${type}; got ${this.events.map((e) => e.type).join(", ")}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async close(): Promise<void> {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.close();
    await this.closed;
  }
}
