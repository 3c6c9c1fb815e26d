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
    const undated = await expectRefusal(server.url, {
      query: { "api-version": "latest", model: "gpt-realtime" },
    });
    expect(undated.status).toBe(400);
    const tooOld = await expectRefusal(server.url, {
      query: { "api-version": "2024-10-01-preview", model: "gpt-realtime" },
    });
    expect(tooOld.status).toBe(400);
    const early = await expectRefusal(server.url, {
      query: { "api-version": "2025-10-01", model: "azure-realtime" },
    });
    expect(JSON.parse(early.body).error.message).toMatch(
      /azure-realtime is not available at api-version 2025-10-01/,
    );
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

describe("api versions and agent credentials", () => {
  it.each([
    "2025-05-01-preview",
    "2025-10-01",
    "2026-01-01-preview",
    "2026-04-10",
    "2026-06-01-preview",
    "2026-07-15",
    "2026-07-31-preview",
    "v1",
  ])("accepts api-version %s", async (version) => {
    server = await startLocalVoiceLiveServer();
    client = await TestClient.connect(server.url, {
      query: { "api-version": version, model: "gpt-realtime" },
    });
    expect((await client.waitFor("session.created")).session.id).toMatch(/^sess_/);
  });

  const agentQuery = { "api-version": "2026-07-15", "agent-name": "helper", "agent-project-name": "proj" };

  it("refuses a key in agent mode even when it is the right key, and takes a bearer token", async () => {
    server = await startLocalVoiceLiveServer({ apiKey: KEY, bearerToken: "entra-token-0123456789" });
    const keyed = await expectRefusal(server.url, { query: agentQuery, headers: { "api-key": KEY } });
    expect(keyed.status).toBe(401);
    expect(JSON.parse(keyed.body).error.message).toMatch(/not supported in agent mode/);
    const wrong = await expectRefusal(server.url, {
      query: agentQuery,
      headers: { authorization: "Bearer other-token-0123456789" },
    });
    expect(wrong.status).toBe(401);
    expect((await expectRefusal(server.url, { query: agentQuery })).status).toBe(401);
    client = await TestClient.connect(server.url, {
      query: agentQuery,
      headers: { authorization: "Bearer entra-token-0123456789" },
    });
    expect((await client.waitFor("session.created")).session.agent).toMatchObject({ name: "helper" });
  });
});
