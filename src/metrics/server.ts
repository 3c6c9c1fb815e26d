import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../log.ts";
import type { Metrics } from "./metrics.ts";

export interface Health {
  readonly ok: boolean;
  readonly details: Readonly<Record<string, string | number | boolean>>;
}

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves `/metrics` (Prometheus text format) and `/healthz` on 127.0.0.1 only: metrics describe
 * guilds and usage, which is nobody else's business.
 */
export async function startMetricsServer(
  metrics: Metrics,
  health: () => Health,
  port: number,
  log: Logger,
): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (path === "/metrics") {
      metrics.registry
        .metrics()
        .then((body) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(body))
        .catch((error: unknown) => {
          log.error({ err: error }, "metrics collection failed");
          res.writeHead(500).end();
        });
      return;
    }
    if (path === "/healthz") {
      const state = health();
      res
        .writeHead(state.ok ? 200 : 503, { "content-type": "application/json" })
        .end(JSON.stringify({ status: state.ok ? "ok" : "unavailable", ...state.details }));
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" }).end("not found: try /metrics or /healthz\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  log.info({ port: bound }, `metrics on http://127.0.0.1:${bound}/metrics`);
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
