import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP proxy on loopback that forwards to a target port and keeps the raw head (request line and
 * headers) of every HTTP request it carries: exactly what a server, or anything logging requests
 * on the way, sees of a client's WebSocket upgrade.
 */
export interface RecordingProxy {
  readonly url: string;
  /** Raw request heads, in arrival order. */
  readonly heads: string[];
  /** Where to forward (set once the target listens). */
  forwardTo(url: string): void;
  close(): Promise<void>;
}

const HEAD_END = "\r\n\r\n";
const MAX_HEAD_BYTES = 64 * 1024;

export async function startRecordingProxy(): Promise<RecordingProxy> {
  const heads: string[] = [];
  const sockets = new Set<Socket>();
  let target: URL | undefined;
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    if (target === undefined) {
      client.destroy();
      return;
    }
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(upstream);
    upstream.on("close", () => sockets.delete(upstream));
    let head = "";
    let recording = true;
    client.on("data", (chunk: Buffer) => {
      if (!recording) return;
      head += chunk.toString("latin1");
      const end = head.indexOf(HEAD_END);
      if (end >= 0 || head.length > MAX_HEAD_BYTES) {
        heads.push(end >= 0 ? head.slice(0, end) : head);
        recording = false;
      }
    });
    client.pipe(upstream);
    upstream.pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the proxy has no port");
  return {
    url: `http://127.0.0.1:${address.port}`,
    heads,
    forwardTo(url) {
      target = new URL(url);
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
