import { afterEach, describe, expect, it } from "vitest";
import { AppHarness } from "../../src/sim/app-harness.ts";
import { waitFor } from "../sim/voice-test-kit.ts";
import { askAndHear, voiceLiveSessions } from "./helpers.ts";
import { captureLogs } from "./logs.ts";

/**
 * The main gateway misbehaving under a live conversation: the bot resumes its gateway session, the
 * conversation keeps its Voice Live session and is still heard, and commands still answer.
 */

let h: AppHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function liveConversation(): Promise<AppHarness> {
  h = await AppHarness.start({ logger: captureLogs().logger, heartbeatIntervalMs: 500 });
  await h.join();
  await askAndHear(h);
  expect(voiceLiveSessions(h)).toBe(1);
  return h;
}

async function stillWorks(harness: AppHarness): Promise<void> {
  expect(harness.app.conversations.isActive(harness.guild.id)).toBe(true);
  const status = await harness.settled(harness.discord.command(harness.guild.id, harness.userId, "status"));
  expect(status.map((r) => r.kind)).toEqual(["reply"]);
  await askAndHear(harness);
  expect(voiceLiveSessions(harness)).toBe(1);
}

describe("gateway faults during a conversation", () => {
  it("a dropped connection (1006) is resumed, not re-identified", async () => {
    const harness = await liveConversation();
    harness.discord.dropGateway();
    await waitFor(() => harness.discord.gatewayCounters.resumes >= 1, "a resume", 15_000);
    expect(harness.discord.gatewayCounters.identifies).toBe(1);
    await stillWorks(harness);
  }, 60_000);

  it("a zombie connection (heartbeats never ACKed) is noticed and resumed", async () => {
    const harness = await liveConversation();
    harness.discord.setHeartbeatAcks(false);
    await waitFor(() => harness.discord.gatewayCounters.resumes >= 1, "a resume", 15_000);
    harness.discord.setHeartbeatAcks(true);
    expect(harness.discord.gatewayCounters.identifies).toBe(1);
    await stillWorks(harness);
  }, 60_000);

  it("op 7 Reconnect is followed by a resume", async () => {
    const harness = await liveConversation();
    harness.discord.requestReconnect();
    await waitFor(() => harness.discord.gatewayCounters.resumes >= 1, "a resume", 15_000);
    await stillWorks(harness);
  }, 60_000);

  it("an invalid session (op 9) makes the bot identify again; the conversation carries on", async () => {
    const harness = await liveConversation();
    harness.discord.invalidateSessions();
    await waitFor(() => harness.discord.gatewayCounters.identifies >= 2, "a new identify", 20_000);
    await stillWorks(harness);
  }, 60_000);
});

describe("REST answers 429 or 5xx", () => {
  it("an interaction answer refused with 429 is retried after retry-after and still arrives", async () => {
    h = await AppHarness.start({ logger: captureLogs().logger });
    h.discord.failRequests({ match: /^POST \/interactions\//, status: 429, retryAfterMs: 1_000 });
    const record = h.discord.command(h.guild.id, h.userId, "status");
    const responses = await h.settled(record);
    expect(responses.map((r) => r.kind)).toEqual(["reply"]);
    const attempts = h.discord.requests.filter((r) => r.route.startsWith(`/interactions/${record.id}/`));
    expect(attempts.map((r) => r.status)).toEqual([429, 204]);
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(900);
  }, 30_000);

  it("a 502 on an answer is retried and the answer arrives once", async () => {
    h = await AppHarness.start({ logger: captureLogs().logger });
    h.discord.failRequests({ match: /^POST \/interactions\//, status: 502 });
    const record = h.discord.command(h.guild.id, h.userId, "status");
    const responses = await h.settled(record);
    expect(responses.map((r) => r.kind)).toEqual(["reply"]);
  }, 30_000);
});
