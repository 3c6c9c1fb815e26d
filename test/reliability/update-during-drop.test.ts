import { afterEach, describe, expect, it } from "vitest";
import { buildSessionConfig } from "../../src/bridge/persona-session.ts";
import { createMemoryLogger } from "../../src/log.ts";
import { defaultPersona } from "../../src/persona.ts";
import type { SessionConfig } from "../../src/voicelive/protocol.ts";
import { ConnectionRateLimiter } from "../../src/voicelive/rate-limiter.ts";
import { VoiceLiveSession } from "../../src/voicelive/session.ts";
import { type FakeService, startFakeService, testAzure, until } from "../voicelive/fake-service.ts";
import { trapProcessErrors } from "./helpers.ts";

/**
 * Found by the fault soak: a socket that drops while a live `session.update` waits for its answer.
 * The change must survive (the reconnect applies it) and the session must come back.
 */

function config(temperature: number): SessionConfig {
  const built = buildSessionConfig({
    ...defaultPersona({ instructions: "Be brief.", voice: "alloy" }),
    temperature,
  });
  if (!built.ok) throw new Error(built.problems.join("; "));
  return built.config;
}

let service: FakeService | undefined;
let session: VoiceLiveSession | undefined;

afterEach(async () => {
  await session?.close();
  await service?.close();
  session = undefined;
  service = undefined;
});

describe("a Voice Live drop during a live session.update", () => {
  it("keeps the new configuration for the reconnect and reports the change as deferred", async () => {
    const trap = trapProcessErrors();
    try {
      let updates = 0;
      service = await startFakeService({
        answerSessionUpdate: false,
        onEvent: (connection, event) => {
          if (event.type !== "session.update") return;
          // The live change (the second update) is never answered: the socket drops instead.
          if (++updates === 2) connection.ws.terminate();
          else
            connection.send({
              type: "session.updated",
              session: { id: "sess", ...(event.session as object) },
            });
        },
      });
      session = new VoiceLiveSession({
        azure: testAzure(service.endpoint),
        session: config(0.8),
        backoff: { baseMs: 10, maxMs: 20 },
        limiter: new ConnectionRateLimiter(10_000),
        pingIntervalMs: 0,
        logger: createMemoryLogger().logger,
      });
      expect((await session.start()).ok).toBe(true);

      const outcome = await session.updateSession(config(1.1));
      expect(outcome).toEqual({ outcome: "deferred" });
      await until(
        () => session?.state === "ready" && service?.connections.length === 2,
        5_000,
        "the reconnect",
      );
      const reapplied = service.connections[1]?.received.find((event) => event.type === "session.update");
      expect(reapplied?.session).toMatchObject({ temperature: 1.1 });
      expect(session.config).toMatchObject({ temperature: 1.1 });
      expect(trap.errors).toEqual([]);
    } finally {
      trap.dispose();
    }
  });
});
