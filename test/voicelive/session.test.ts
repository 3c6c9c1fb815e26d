import { afterEach, describe, expect, it } from "vitest";
import { buildSessionConfig } from "../../src/bridge/persona-session.ts";
import type { AzureVoiceLiveConfig } from "../../src/config.ts";
import { createMemoryLogger } from "../../src/log.ts";
import { defaultPersona } from "../../src/persona.ts";
import type { SessionConfig } from "../../src/voicelive/protocol.ts";
import { ConnectionRateLimiter } from "../../src/voicelive/rate-limiter.ts";
import { VoiceLiveSession, type VoiceLiveSessionOptions } from "../../src/voicelive/session.ts";
import type { ReconnectingInfo, SessionState } from "../../src/voicelive/session-events.ts";
import {
  type FakeService,
  type FakeServiceOptions,
  startFakeService,
  testAzure,
  until,
} from "./fake-service.ts";

const built = buildSessionConfig({
  // A session without a bridge: the service answers each turn by itself.
  ...defaultPersona({ instructions: "Be brief.", voice: "alloy" }),
  turnTaking: "service",
});
if (!built.ok) throw new Error("default persona must build");
const config: SessionConfig = built.config;

const services: FakeService[] = [];
const sessions: VoiceLiveSession[] = [];

afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()));
  await Promise.all(services.splice(0).map((s) => s.close()));
});

async function service(options: FakeServiceOptions = {}): Promise<FakeService> {
  const started = await startFakeService(options);
  services.push(started);
  return started;
}

function session(
  azure: AzureVoiceLiveConfig,
  overrides: Partial<VoiceLiveSessionOptions> = {},
): { session: VoiceLiveSession; lines: string[]; observed: Observed } {
  const memory = createMemoryLogger();
  const created = new VoiceLiveSession({
    azure,
    session: config,
    backoff: { baseMs: 10, maxMs: 40 },
    limiter: new ConnectionRateLimiter(10_000),
    pingIntervalMs: 0,
    connectTimeoutMs: 3_000,
    logger: memory.logger,
    ...overrides,
  });
  sessions.push(created);
  return { session: created, lines: memory.lines, observed: observe(created) };
}

interface Observed {
  states: SessionState[];
  reconnecting: ReconnectingInfo[];
  reconnected: number;
  rollovers: number;
  failed: string[];
}

function observe(target: VoiceLiveSession): Observed {
  const observed: Observed = { states: [], reconnecting: [], reconnected: 0, rollovers: 0, failed: [] };
  target.on("state", (state) => observed.states.push(state));
  target.on("reconnecting", (info) => observed.reconnecting.push(info));
  target.on("reconnected", () => {
    observed.reconnected += 1;
  });
  target.on("rollover", () => {
    observed.rollovers += 1;
  });
  target.on("failed", ({ message }) => observed.failed.push(message));
  return observed;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("VoiceLiveSession", () => {
  it("gives up at once on a wrong API key (HTTP 401) with one clear message", async () => {
    const fake = await service({ refuseWith: { status: 401 } });
    const { session: s, observed } = session(testAzure(fake.endpoint));
    const outcome = await s.start();
    expect(outcome.ok).toBe(false);
    expect(!outcome.ok && outcome.message).toMatch(/HTTP 401.*AZURE_VOICELIVE_API_KEY/);
    await pause(150);
    expect(fake.upgradeAttempts).toHaveLength(1);
    expect(observed.failed).toHaveLength(1);
    expect(observed.reconnecting).toHaveLength(0);
    expect(s.state).toBe("failed");
  });

  it("names a missing role on HTTP 403 and does not retry it either", async () => {
    const fake = await service({ refuseWith: { status: 403 } });
    const { session: s } = session(testAzure(fake.endpoint));
    const outcome = await s.start();
    expect(!outcome.ok && outcome.message).toMatch(/HTTP 403.*role/);
    await pause(100);
    expect(fake.upgradeAttempts).toHaveLength(1);
  });

  it("retries throttled connections (HTTP 429) and then connects", async () => {
    const fake = await service();
    fake.refuseNext(429, 2);
    const { session: s, observed } = session(testAzure(fake.endpoint));
    const outcome = await s.start();
    expect(outcome.ok).toBe(true);
    expect(fake.upgradeAttempts).toHaveLength(3);
    expect(observed.reconnecting.map((r) => r.attempt)).toEqual([1, 2]);
    expect(observed.reconnecting[0]?.reason).toMatch(/HTTP 429/);
  });

  it("reconnects after the server dies mid-response and re-sends session.update", async () => {
    const fake = await service();
    const { session: s, observed } = session(testAzure(fake.endpoint));
    const first = fake.nextConnection();
    expect((await s.start()).ok).toBe(true);
    const connection = await first;
    const deltas: string[] = [];
    s.on("response.audio.delta", (event, pcm) => deltas.push(`${event.response_id}:${pcm.length}`));
    connection.send({ type: "response.created", response: { id: "resp_1", status: "in_progress" } });
    connection.send({
      type: "response.audio.delta",
      response_id: "resp_1",
      item_id: "item_1",
      output_index: 0,
      content_index: 0,
      delta: Buffer.alloc(960).toString("base64"),
    });
    await until(() => deltas.length === 1 && s.responseActive, 5_000, "response in progress");
    expect(deltas).toEqual(["resp_1:480"]);

    // The next two attempts fail with 503 as well: backoff continues, then the session comes back.
    fake.refuseNext(503, 2);
    const second = fake.nextConnection();
    connection.ws.terminate();
    await until(() => observed.reconnecting.length >= 1, 5_000, "reconnecting");
    expect(s.responseActive).toBe(false);
    const dropped = s.droppedAudioMs;
    s.appendAudio(new Int16Array(2400));
    expect(s.droppedAudioMs - dropped).toBe(100);

    const reconnected = await second;
    await until(() => s.state === "ready", 5_000, "ready again");
    expect(observed.reconnected).toBe(1);
    expect(observed.reconnecting.map((r) => r.attempt)).toEqual([1, 2, 3]);
    expect(observed.reconnecting[0]?.reason).toMatch(/connection/);
    expect(reconnected.received[0]).toEqual({
      type: "session.update",
      event_id: expect.any(String),
      session: config,
    });
    expect(s.connections).toBe(2);
    expect(observed.states).toEqual(["connecting", "ready", "reconnecting", "ready"]);
  });

  it("treats a policy close (1008) as final", async () => {
    const fake = await service();
    const { session: s, observed } = session(testAzure(fake.endpoint));
    const first = fake.nextConnection();
    await s.start();
    (await first).ws.close(1008, "Session configuration failed after 5 attempts");
    await until(() => observed.failed.length === 1, 5_000, "failed");
    expect(observed.failed[0]).toMatch(
      /policy violation \(1008: Session configuration failed after 5 attempts\)/,
    );
    await pause(100);
    expect(fake.upgradeAttempts).toHaveLength(1);
  });

  it("shares one connection-rate limiter between sessions to the same endpoint", async () => {
    const fake = await service();
    const other = await service();
    const shared = { limiter: undefined, connectionsPerMinute: 1 } as const;
    const a = session(testAzure(fake.endpoint), shared).session;
    const b = session(testAzure(fake.endpoint), shared).session;
    const c = session(testAzure(other.endpoint), shared).session;
    expect((await a.start()).ok).toBe(true);
    expect((await c.start()).ok).toBe(true);
    const started = b.start();
    await pause(300);
    expect(fake.upgradeAttempts).toHaveLength(1);
    expect(b.state).toBe("connecting");
    await b.close();
    expect(await started).toEqual({ ok: false, message: "session closed" });
    expect(fake.upgradeAttempts).toHaveLength(1);
  });

  it("rolls over to a fresh session before the time limit, re-applying the configuration", async () => {
    const fake = await service();
    const { session: s, observed } = session(testAzure(fake.endpoint), { sessionMaxMs: 150 });
    const first = fake.nextConnection();
    await s.start();
    const connection = await first;
    // A response in progress delays the rollover until it is done.
    connection.send({ type: "response.created", response: { id: "resp_1", status: "in_progress" } });
    await until(() => s.responseActive, 5_000, "response active");
    await pause(400);
    expect(fake.connections).toHaveLength(1);
    const second = fake.nextConnection();
    connection.send({ type: "response.done", response: { id: "resp_1", status: "completed" } });
    const fresh = await second;
    await until(() => observed.rollovers === 1, 5_000, "rollover");
    expect(fresh.received[0]).toMatchObject({ type: "session.update", session: config });
    expect(await connection.closed).toEqual({ code: 1000, reason: "session rollover" });
    expect(observed.reconnecting).toHaveLength(0);
    expect(observed.states).toEqual(["connecting", "ready"]);
    // Audio now goes to the fresh session.
    s.appendAudio(new Int16Array(480));
    await until(() => fresh.received.some((e) => e.type === "input_audio_buffer.append"), 5_000, "append");
  });

  it("authenticates with Entra ID: the configured scope, a bearer header, a new token per connect", async () => {
    const fake = await service();
    const scopes: (string | string[])[] = [];
    let issued = 0;
    const credential = {
      getToken: async (scope: string | string[]) => {
        scopes.push(scope);
        issued += 1;
        return { token: `entra-token-${issued}-abcdefghijkl`, expiresOnTimestamp: Date.now() + 3_600_000 };
      },
    };
    const azure = testAzure(fake.endpoint, {
      apiKey: undefined,
      tokenScope: "https://cognitiveservices.azure.com/.default",
    });
    const { session: s, lines, observed } = session(azure, { credential });
    const first = fake.nextConnection();
    await s.start();
    const connection = await first;
    expect(connection.headers.authorization).toBe("Bearer entra-token-1-abcdefghijkl");
    expect(connection.headers["api-key"]).toBeUndefined();
    const second = fake.nextConnection();
    connection.ws.terminate();
    const again = await second;
    await until(() => observed.reconnected === 1, 5_000, "reconnected");
    expect(again.headers.authorization).toBe("Bearer entra-token-2-abcdefghijkl");
    expect(scopes).toEqual([
      "https://cognitiveservices.azure.com/.default",
      "https://cognitiveservices.azure.com/.default",
    ]);
    expect(lines.join("\n")).not.toMatch(/entra-token/);
  });

  it("fails clearly when no Entra credential is available", async () => {
    const fake = await service();
    const credential = {
      getToken: async () => {
        throw Object.assign(new Error("no sign-in found"), { name: "CredentialUnavailableError" });
      },
    };
    const { session: s } = session(testAzure(fake.endpoint, { apiKey: undefined }), { credential });
    const outcome = await s.start();
    expect(!outcome.ok && outcome.message).toMatch(
      /no Microsoft Entra ID credential is available.*AZURE_VOICELIVE_API_KEY/,
    );
    expect(fake.upgradeAttempts).toHaveLength(0);
  });

  it("applies configuration changes live, and restarts for a voice change after speaking", async () => {
    const fake = await service();
    const { session: s, observed } = session(testAzure(fake.endpoint));
    const first = fake.nextConnection();
    await s.start();
    const connection = await first;

    expect(await s.updateSession({ ...config, instructions: "Be funny." })).toEqual({ outcome: "applied" });
    expect(connection.received.at(-1)).toMatchObject({
      type: "session.update",
      session: { instructions: "Be funny." },
    });
    expect(Object.keys(connection.received.at(-1)?.session as object)).toEqual(["instructions"]);
    expect(await s.updateSession({ ...config, instructions: "Be funny." })).toEqual({ outcome: "unchanged" });

    const invalid = await s.updateSession({ ...config, max_response_output_tokens: 0 });
    expect(invalid).toMatchObject({
      outcome: "invalid",
      problems: [expect.stringMatching(/^max_response_output_tokens/)],
    });
    expect(connection.received).toHaveLength(2);

    connection.send({
      type: "response.audio.delta",
      response_id: "r",
      item_id: "i",
      output_index: 0,
      content_index: 0,
      delta: "AAAA",
    });
    await until(() => s.audioProduced, 5_000, "audio produced");
    const second = fake.nextConnection();
    const voiceChange = {
      ...config,
      instructions: "Be funny.",
      voice: { type: "openai", name: "echo" },
    } as const;
    expect(await s.updateSession(voiceChange)).toEqual({ outcome: "restarted" });
    const fresh = await second;
    expect(fresh.received[0]).toMatchObject({ type: "session.update", session: voiceChange });
    expect(observed.rollovers).toBe(1);
    expect(s.audioProduced).toBe(false);
  });

  it("applies a change made while connecting once connected", async () => {
    const fake = await service();
    const { session: s } = session(testAzure(fake.endpoint));
    const first = fake.nextConnection();
    const started = s.start();
    expect(await s.updateSession({ ...config, instructions: "Changed early." })).toEqual({
      outcome: "deferred",
    });
    expect((await started).ok).toBe(true);
    const connection = await first;
    await until(() => s.sessionInfo?.instructions === "Changed early.", 5_000, "early change applied");
    expect(connection.received.filter((e) => e.type === "session.update").length).toBeGreaterThanOrEqual(1);
  });

  it("survives service errors and garbage with nobody listening", async () => {
    const fake = await service();
    const { session: s } = session(testAzure(fake.endpoint));
    const first = fake.nextConnection();
    await s.start();
    const connection = await first;
    connection.send({ type: "error", error: { type: "server_error", message: "boom" } });
    connection.send("{{{{");
    connection.send({ type: "response.done", response: "nope" });
    const started: string[] = [];
    s.on("input_audio_buffer.speech_started", (event) => started.push(event.item_id));
    s.on("input_audio_buffer.speech_started", () => {
      throw new Error("a listener bug");
    });
    connection.send({ type: "input_audio_buffer.speech_started", audio_start_ms: 10, item_id: "u1" });
    connection.send({ type: "input_audio_buffer.speech_started", audio_start_ms: 20, item_id: "u2" });
    await until(() => started.length === 2, 5_000, "events after garbage");
    expect(s.state).toBe("ready");
    expect(s.cancelResponse()).toBe(false);
  });
});
