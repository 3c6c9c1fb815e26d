import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";
import type { AzureVoiceLiveConfig } from "../../src/config.ts";

/**
 * A scripted stand-in for Voice Live built on plain `ws`, so tests control every byte: it can
 * refuse the upgrade with any HTTP status, answer `session.update` (or not), send malformed frames,
 * stall, or die mid-response.
 */

export interface ReceivedEvent {
  readonly type: string;
  readonly [key: string]: unknown;
}

export interface FakeConnection {
  readonly ws: WebSocket;
  readonly url: string;
  readonly headers: IncomingMessage["headers"];
  readonly received: ReceivedEvent[];
  readonly closed: Promise<{ code: number; reason: string }>;
  send(event: object | string): void;
}

export interface FakeServiceOptions {
  /** Refuse every upgrade with this HTTP status (and optional headers). */
  readonly refuseWith?: { readonly status: number; readonly headers?: Record<string, string> };
  /** Answer `session.update` with `session.updated` (default true). */
  readonly answerSessionUpdate?: boolean;
  /** Called for every client event after the default handling. */
  readonly onEvent?: (connection: FakeConnection, event: ReceivedEvent) => void;
}

export interface FakeService {
  readonly endpoint: string;
  readonly connections: FakeConnection[];
  /** Upgrade requests seen, refused ones included. */
  readonly upgradeAttempts: IncomingMessage[];
  nextConnection(): Promise<FakeConnection>;
  /** Refuses the next `times` upgrades with `status` (then accepts again). */
  refuseNext(status: number, times: number): void;
  close(): Promise<void>;
}

let sessionCounter = 0;

export async function startFakeService(options: FakeServiceOptions = {}): Promise<FakeService> {
  const http: Server = createServer((_req, res) => {
    res.writeHead(404).end();
  });
  const wss = new WebSocketServer({ noServer: true });
  const connections: FakeConnection[] = [];
  const upgradeAttempts: IncomingMessage[] = [];
  const waiters: ((connection: FakeConnection) => void)[] = [];
  let refusals: { status: number; times: number } | undefined;

  http.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgradeAttempts.push(req);
    let refuse = options.refuseWith;
    if (refusals !== undefined && refusals.times > 0) {
      refusals.times -= 1;
      refuse = { status: refusals.status };
    }
    if (refuse !== undefined) {
      const extra = Object.entries(refuse.headers ?? {})
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join("");
      socket.end(
        `HTTP/1.1 ${refuse.status} Refused\r\nContent-Length: 0\r\n${extra}Connection: close\r\n\r\n`,
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const received: ReceivedEvent[] = [];
      const connection: FakeConnection = {
        ws,
        url: req.url ?? "",
        headers: req.headers,
        received,
        closed: new Promise((resolve) => {
          ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() }));
        }),
        send: (event) => ws.send(typeof event === "string" ? event : JSON.stringify(event)),
      };
      const id = `sess_${++sessionCounter}`;
      let session: Record<string, unknown> = {
        id,
        object: "realtime.session",
        model: "gpt-realtime",
        voice: "alloy",
      };
      ws.on("message", (data) => {
        const event = JSON.parse(data.toString()) as ReceivedEvent;
        received.push(event);
        if (event.type === "session.update" && options.answerSessionUpdate !== false) {
          session = { ...session, ...(event.session as object) };
          connection.send({ type: "session.updated", event_id: `srv_${received.length}`, session });
        }
        options.onEvent?.(connection, event);
      });
      connections.push(connection);
      connection.send({ type: "session.created", event_id: "srv_0", session });
      for (const waiter of waiters.splice(0)) waiter(connection);
    });
  });

  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const { port } = http.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    connections,
    upgradeAttempts,
    nextConnection: () => new Promise((resolve) => waiters.push(resolve)),
    refuseNext(status, times) {
      refusals = { status, times };
    },
    async close() {
      for (const client of wss.clients) client.terminate();
      wss.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

export function testAzure(
  endpoint: string,
  overrides: Partial<AzureVoiceLiveConfig> = {},
): AzureVoiceLiveConfig {
  return {
    endpoint,
    apiKey: "test-api-key-5d1c0c8e9a",
    model: "gpt-realtime",
    apiVersion: "2025-10-01",
    agent: undefined,
    tokenScope: "https://ai.azure.com/.default",
    ...overrides,
  };
}

/** Resolves when `predicate` holds, polling; rejects after `timeoutMs`. */
export async function until(predicate: () => boolean, timeoutMs = 5_000, what = "condition"): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
