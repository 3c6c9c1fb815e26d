import { afterEach, describe, expect, it } from "vitest";
import { createMemoryLogger } from "../../src/log.ts";
import { Metrics } from "../../src/metrics/metrics.ts";
import { type MetricsServer, startMetricsServer } from "../../src/metrics/server.ts";

let server: MetricsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("metrics endpoint", () => {
  it("serves Prometheus text with the bot's figures and a health check on loopback", async () => {
    const metrics = new Metrics();
    let healthy = true;
    server = await startMetricsServer(
      metrics,
      () => ({ ok: healthy, details: { conversations: 1 } }),
      0,
      createMemoryLogger().logger,
    );
    metrics.activeConversations.set(3);
    metrics.bargeIns.inc();
    metrics.voiceLiveErrors.inc({ code: "server_error" });
    metrics.inputLatency.observe(0.012);

    const scrape = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    expect(scrape.status).toBe(200);
    expect(scrape.headers.get("content-type")).toContain("text/plain");
    const body = await scrape.text();
    expect(body).toMatch(/^voicelive_active_conversations 3$/m);
    expect(body).toMatch(/^voicelive_barge_ins_total 1$/m);
    expect(body).toMatch(/^voicelive_service_errors_total\{code="server_error"\} 1$/m);
    expect(body).toMatch(/^voicelive_bridge_input_latency_seconds_count 1$/m);

    const ok = await fetch(`http://127.0.0.1:${server.port}/healthz`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ status: "ok", conversations: 1 });
    healthy = false;
    expect((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status).toBe(503);
    expect((await fetch(`http://127.0.0.1:${server.port}/other`)).status).toBe(404);
  });
});
