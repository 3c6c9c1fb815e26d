import { describe, expect, it } from "vitest";
import { createShutdown, type ShutdownStep } from "../../src/discord/shutdown.ts";
import { createMemoryLogger } from "../../src/log.ts";
import { ManualClock } from "./doubles.ts";

function setup(steps: ShutdownStep[]) {
  const clock = new ManualClock();
  const exits: number[] = [];
  const memory = createMemoryLogger();
  const shutdown = createShutdown({
    steps,
    logger: memory.logger,
    exit: (code) => exits.push(code),
    schedule: clock.schedule,
    deadlineMs: 5_000,
  });
  return { clock, exits, shutdown, lines: memory.lines };
}

describe("shutdown", () => {
  it("runs the steps in order, then exits 0", async () => {
    const order: string[] = [];
    const { shutdown, exits, clock } = setup([
      { name: "leave", run: async () => void order.push("leave") },
      { name: "database", run: () => void order.push("database") },
      { name: "client", run: async () => void order.push("client") },
    ]);
    await shutdown("SIGTERM");
    expect(order).toEqual(["leave", "database", "client"]);
    expect(exits).toEqual([0]);
    expect(clock.pending).toBe(0);
  });

  it("runs the later steps when one fails, logs it and exits 1", async () => {
    const order: string[] = [];
    const { shutdown, exits, lines } = setup([
      { name: "leave", run: () => Promise.reject(new Error("socket stuck")) },
      { name: "database", run: () => void order.push("database") },
    ]);
    await shutdown("SIGINT");
    expect(order).toEqual(["database"]);
    expect(exits).toEqual([1]);
    expect(lines.join("\n")).toContain("socket stuck");
  });

  it("forces the exit at the deadline when a step hangs", async () => {
    const { shutdown, exits, clock } = setup([{ name: "leave", run: () => new Promise(() => undefined) }]);
    void shutdown("SIGTERM");
    clock.advance(4_999);
    expect(exits).toEqual([]);
    clock.advance(1);
    expect(exits).toEqual([1]);
  });

  it("exits at once on a second signal, and with the code asked for", async () => {
    const first = setup([{ name: "leave", run: () => new Promise(() => undefined) }]);
    void first.shutdown("SIGINT");
    await first.shutdown("SIGINT");
    expect(first.exits).toEqual([1]);
    const second = setup([]);
    await second.shutdown("login failed", 1);
    expect(second.exits).toEqual([1]);
  });
});
