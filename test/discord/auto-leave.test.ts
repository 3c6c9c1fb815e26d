import { beforeEach, describe, expect, it } from "vitest";
import { AutoLeave } from "../../src/discord/auto-leave.ts";
import { ManualClock } from "./doubles.ts";

describe("AutoLeave", () => {
  let clock: ManualClock;
  let humans: Map<string, number | null>;
  let left: string[];
  let autoLeave: AutoLeave;

  beforeEach(() => {
    clock = new ManualClock();
    humans = new Map();
    left = [];
    autoLeave = new AutoLeave({
      graceMs: 60_000,
      humansInConversation: (guildId) => humans.get(guildId) ?? null,
      leave: (guildId) => left.push(guildId),
      schedule: clock.schedule,
    });
  });

  it("leaves after the grace period once only bots remain", () => {
    humans.set("g", 0);
    autoLeave.check("g");
    clock.advance(59_999);
    expect(left).toEqual([]);
    autoLeave.check("g"); // more voice state events do not restart the countdown
    clock.advance(1);
    expect(left).toEqual(["g"]);
    expect(clock.pending).toBe(0);
  });

  it("cancels the countdown when someone comes back", () => {
    humans.set("g", 0);
    autoLeave.check("g");
    clock.advance(30_000);
    humans.set("g", 1);
    autoLeave.check("g");
    clock.advance(120_000);
    expect(left).toEqual([]);
    expect(clock.pending).toBe(0);
  });

  it("does not leave if someone is back at expiry though no event said so", () => {
    humans.set("g", 0);
    autoLeave.check("g");
    humans.set("g", 2);
    clock.advance(60_000);
    expect(left).toEqual([]);
  });

  it("does nothing without a conversation, and stops every countdown on shutdown", () => {
    autoLeave.check("none");
    expect(clock.pending).toBe(0);
    humans.set("a", 0);
    humans.set("b", 0);
    autoLeave.check("a");
    autoLeave.check("b");
    expect(autoLeave.isCounting("a")).toBe(true);
    autoLeave.stop();
    clock.advance(60_000);
    expect(left).toEqual([]);
  });

  it("counts per guild", () => {
    humans.set("a", 0);
    humans.set("b", 3);
    autoLeave.check("a");
    autoLeave.check("b");
    clock.advance(60_000);
    expect(left).toEqual(["a"]);
  });
});
