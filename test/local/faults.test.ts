/** The fault-injection and observation API other suites drive the local server with. */
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type LocalVoiceLiveServer, startLocalVoiceLiveServer } from "../../src/local/server.ts";
import { TestClient } from "./helpers.ts";

let server: LocalVoiceLiveServer;
const clients: TestClient[] = [];

async function connect(): Promise<TestClient> {
  const client = await TestClient.connect(server.url);
  clients.push(client);
  return client;
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await sleep(10);
  expect(condition()).toBe(true);
}

beforeEach(async () => {
  server = await startLocalVoiceLiveServer({ speed: 100 });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server.close();
});

describe("observation", () => {
  it("logs each session's client event types in order and the PCM it received", async () => {
    const a = await connect();
    await a.waitFor("session.created");
    a.send({ type: "session.update", session: { turn_detection: null } });
    a.appendPcm(new Int16Array(24_000), 24_000); // 1 s in 50 appends
    a.send({ type: "nonsense" });
    a.send({ type: "input_audio_buffer.clear" });
    await a.waitFor("input_audio_buffer.cleared");
    const b = await connect();
    await b.waitFor("session.created");
    expect(server.sessions).toBe(2);
    const [logA, logB] = server.clientEvents;
    expect(logA?.types).toEqual([
      "session.update",
      ...Array<string>(50).fill("input_audio_buffer.append"),
      "nonsense",
      "input_audio_buffer.clear",
    ]);
    expect(logA?.pcmBytes).toBe(48_000);
    expect(logA?.audioMs).toBeCloseTo(1000, 6);
    expect(logB?.types).toEqual([]);
    await a.close();
    await until(() => server.sessions === 1);
    expect(logA?.open).toBe(false);
  });
});

describe("faults", () => {
  it("closes open sessions with a code after N more frames", async () => {
    const c = await connect();
    await c.waitFor("session.created");
    server.closeAfterEvents(2, 4001);
    c.send({ type: "input_audio_buffer.clear" });
    c.send({ type: "input_audio_buffer.clear" });
    c.send({ type: "input_audio_buffer.clear" });
    const closed = await c.closed;
    expect(closed.code).toBe(4001);
    expect(c.events.map((e) => e.type)).toEqual([
      "session.created",
      "input_audio_buffer.cleared",
      "input_audio_buffer.cleared",
    ]);
  });

  it("arms the next session to connect", async () => {
    server.closeAfterEvents(1, 4002, "next");
    const first = await connect();
    expect((await first.closed).code).toBe(4002);
    expect(first.events.map((e) => e.type)).toEqual(["session.created"]);
    const second = await connect();
    await second.waitFor("session.created");
    expect(second.ws.readyState).toBe(second.ws.OPEN);
  });

  it("closes or drops every session on demand", async () => {
    const a = await connect();
    const b = await connect();
    server.closeAll(4003, "maintenance");
    expect(await a.closed).toEqual({ code: 4003, reason: "maintenance" });
    expect((await b.closed).code).toBe(4003);
    const c = await connect();
    await c.waitFor("session.created");
    server.terminateAll();
    expect((await c.closed).code).toBe(1006);
  });

  it("sends raw malformed frames and injected errors", async () => {
    const c = await connect();
    await c.waitFor("session.created");
    server.sendRaw("{not json");
    server.emitError({ code: "rate_limited", message: "slow down" });
    const error = await c.waitFor("error");
    expect(error.error).toMatchObject({ type: "server_error", code: "rate_limited", message: "slow down" });
    expect(c.raw).toContain("{not json");
    expect(c.raw.indexOf("{not json")).toBeLessThan(
      c.raw.findIndex((frame) => frame.includes("rate_limited")),
    );
    expect(c.ws.readyState).toBe(c.ws.OPEN);
  });

  it("delays events without reordering them, even when the delay shrinks", async () => {
    const c = await connect();
    await c.waitFor("session.created");
    server.delayEventsMs = 150;
    c.send({ type: "session.update", session: { instructions: "first" } });
    await until(() => server.clientEvents[0]!.types.length === 1);
    server.delayEventsMs = 0;
    c.send({ type: "session.update", session: { instructions: "second" } });
    await c.waitFor("session.updated", (e) => e.session.instructions === "second");
    expect(c.all("session.updated").map((e) => e.session.instructions)).toEqual(["first", "second"]);
  });

  it("stops reading while stalled and catches up when resumed", async () => {
    const c = await connect();
    await c.waitFor("session.created");
    server.stallReading(true);
    c.send({ type: "input_audio_buffer.clear" });
    await sleep(100);
    expect(server.clientEvents[0]!.types).toEqual([]);
    server.stallReading(false);
    await c.waitFor("input_audio_buffer.cleared");
    expect(server.clientEvents[0]!.types).toEqual(["input_audio_buffer.clear"]);
  });
});
