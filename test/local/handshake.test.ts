/** The WebSocket handshake: path, query parameters and api key, as the service enforces them. */
import { afterEach, describe, expect, it } from "vitest";
import { type LocalVoiceLiveServer, startLocalVoiceLiveServer } from "../../src/local/server.ts";
import { createMemoryLogger } from "../../src/log.ts";
import { expectRefusal, TestClient } from "./helpers.ts";

const KEY = "local-test-key-0123456789";

let server: LocalVoiceLiveServer | undefined;
let client: TestClient | undefined;

afterEach(async () => {
  await client?.close();
  await server?.close();
  client = undefined;
  server = undefined;
});

describe("api key", () => {
  it("refuses an upgrade without the right api-key header (401) and never logs the key", async () => {
    const { logger, lines } = createMemoryLogger();
    server = await startLocalVoiceLiveServer({ apiKey: KEY, logger });
    const missing = await expectRefusal(server.url);
    expect(missing.status).toBe(401);
    expect(JSON.parse(missing.body).error.message).toMatch(/api-key header/);
    expect((await expectRefusal(server.url, { headers: { "api-key": `${KEY}x` } })).status).toBe(401);
    expect((await expectRefusal(server.url, { headers: { "api-key": KEY.slice(0, -1) } })).status).toBe(401);
    expect((await expectRefusal(server.url, { headers: { authorization: `Bearer ${KEY}` } })).status).toBe(
      401,
    );
    // A key in the URL is not accepted on its own: keys belong in headers.
    const inQuery = { "api-version": "2025-10-01", model: "gpt-realtime", "api-key": KEY };
    expect((await expectRefusal(server.url, { query: inQuery })).status).toBe(401);

    client = await TestClient.connect(server.url, { query: inQuery, headers: { "api-key": KEY } });
    const created = await client.waitFor("session.created");
    expect(created.session.id).toMatch(/^sess_/);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join("\n")).not.toContain(KEY);
  });

  it("accepts any credentials when no key is configured", async () => {
    server = await startLocalVoiceLiveServer();
    client = await TestClient.connect(server.url, { headers: { authorization: "Bearer anything" } });
    await client.waitFor("session.created");
    // ws clients, like the official SDK, offer permessage-deflate; the server takes it.
    expect(client.ws.extensions).toContain("permessage-deflate");
  });
});

describe("query parameters and path", () => {
  it("answers 400 with a reason when api-version, model or the agent parameters are missing", async () => {
    server = await startLocalVoiceLiveServer();
    const noVersion = await expectRefusal(server.url, { query: { model: "gpt-realtime" } });
    expect(noVersion.status).toBe(400);
    expect(JSON.parse(noVersion.body).error.message).toMatch(/api-version/);
    const noModel = await expectRefusal(server.url, { query: { "api-version": "2025-10-01" } });
    expect(noModel.status).toBe(400);
    expect(JSON.parse(noModel.body).error.message).toMatch(/model/);
    const halfAgent = await expectRefusal(server.url, {
      query: { "api-version": "2025-10-01", "agent-name": "a" },
    });
    expect(halfAgent.status).toBe(400);
    const v1 = await expectRefusal(server.url, { query: { "api-version": "v1", model: "gpt-realtime" } });
    expect(v1.status).toBe(400);
  });

  it("answers 404 off the realtime path", async () => {
    server = await startLocalVoiceLiveServer();
    expect((await expectRefusal(server.url, { path: "/openai/realtime" })).status).toBe(404);
    expect((await fetch(`${server.url}/`)).status).toBe(404);
    expect((await fetch(`${server.url}/voice-live/realtime`)).status).toBe(426);
  });

  it("opens agent-mode sessions and reports the agent", async () => {
    server = await startLocalVoiceLiveServer();
    client = await TestClient.connect(server.url, {
      query: { "api-version": "2025-10-01", "agent-name": "helper", "agent-project-name": "proj" },
    });
    const created = await client.waitFor("session.created");
    expect(created.session.agent).toMatchObject({ type: "agent", name: "helper" });
    expect(created.session.model).toBeUndefined();
    client.send({ type: "session.update", event_id: "u", session: { instructions: "be brief" } });
    const error = await client.waitFor("error");
    expect(error.error).toMatchObject({ param: "session.instructions", event_id: "u" });
  });

  it("uses the 2026-04-10 prefix padding default from that api-version on", async () => {
    server = await startLocalVoiceLiveServer();
    client = await TestClient.connect(server.url, {
      query: { "api-version": "2026-04-10", model: "gpt-realtime" },
    });
    const created = await client.waitFor("session.created");
    expect(created.session.turn_detection).toMatchObject({ type: "server_vad", prefix_padding_ms: 400 });
  });
});
