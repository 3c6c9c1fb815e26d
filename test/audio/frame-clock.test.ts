import { describe, expect, it } from "vitest";
import { seededRandom } from "../../src/audio/analysis.ts";
import { FrameClock, type FrameClockScheduler } from "../../src/audio/frame-clock.ts";

/**
 * Simulated time with one timer queue. `lateness` decides how late (or, negative, how early) each
 * timer fires relative to what was asked: real timers are never exact.
 */
class SimulatedTime implements FrameClockScheduler {
  now = 1_000;
  #timers: { at: number; callback: () => void; id: number }[] = [];
  #nextId = 1;
  lateness: () => number = () => 0;

  schedule(callback: () => void, delayMs: number): unknown {
    const id = this.#nextId++;
    this.#timers.push({ at: this.now + delayMs + this.lateness(), callback, id });
    return id;
  }

  cancel(handle: unknown): void {
    this.#timers = this.#timers.filter((timer) => timer.id !== handle);
  }

  get pending(): number {
    return this.#timers.length;
  }

  /** Runs every timer due up to `now + ms`, in order, advancing the clock to each. */
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      this.#timers.sort((a, b) => a.at - b.at);
      const next = this.#timers[0];
      if (next === undefined || next.at > end) break;
      this.#timers.shift();
      this.now = Math.max(this.now, next.at);
      next.callback();
    }
    this.now = end;
  }

  /** The event loop is blocked for `ms`: time passes, no timer runs. */
  stall(ms: number): void {
    this.now += ms;
  }
}

function makeClock(time: SimulatedTime, onTick: (tick: number, dueMs: number) => void): FrameClock {
  return new FrameClock({ onTick, now: () => time.now, scheduler: time });
}

describe("FrameClock", () => {
  it("does not drift: after 10 simulated minutes of late timers, tick n is still due at start + 20n", () => {
    const time = new SimulatedTime();
    const random = seededRandom(3);
    time.lateness = () => random() * 4; // every timer up to 4 ms late
    const ticks: number[] = [];
    const lateness: number[] = [];
    const clock = makeClock(time, (tick, due) => {
      ticks.push(tick);
      lateness.push(time.now - due);
      expect(due).toBe(1_000 + 20 * tick);
    });
    clock.start();
    time.advance(600_000);
    clock.stop();
    // 30 000 periods: every tick delivered once, in order, none skipped, none lost to drift.
    expect(ticks.length).toBeGreaterThanOrEqual(30_000);
    expect(ticks.every((tick, i) => tick === i)).toBe(true);
    expect(clock.skippedTicks).toBe(0);
    expect(Math.max(...lateness)).toBeLessThanOrEqual(4);
  });

  it("never delivers a tick before it is due, even when timers fire early", () => {
    const time = new SimulatedTime();
    const random = seededRandom(9);
    time.lateness = () => (random() - 0.7) * 3; // often up to 2 ms early
    const ticks: number[] = [];
    const clock = makeClock(time, (tick, due) => {
      expect(time.now).toBeGreaterThanOrEqual(due);
      ticks.push(tick);
    });
    clock.start();
    time.advance(10_000);
    clock.stop();
    // 500 periods; the timer for tick 500 (due at the very end) may fire a little late.
    expect(ticks.length).toBeGreaterThanOrEqual(500);
    expect(ticks.every((tick, i) => tick === i)).toBe(true);
    expect(clock.skippedTicks).toBe(0);
  });

  it("after a stall delivers at most 2 ticks at once, the latest, and counts the skipped ones", () => {
    const time = new SimulatedTime();
    const deliveries: { tick: number; at: number }[] = [];
    const clock = makeClock(time, (tick) => deliveries.push({ tick, at: time.now }));
    clock.start();
    time.advance(100); // ticks 0..5
    time.stall(205); // due meanwhile: ticks 6..15
    time.advance(0);
    const burst = deliveries.filter((delivery) => delivery.at === 1_305);
    expect(burst.map((delivery) => delivery.tick)).toEqual([14, 15]);
    expect(clock.skippedTicks).toBe(8);
    time.advance(100);
    expect(deliveries.at(-1)?.tick).toBe(20);
    expect(deliveries.at(-1)?.at).toBe(1_400);
    clock.stop();
  });

  it("stop() cancels the pending timer; start() begins again from tick 0", () => {
    const time = new SimulatedTime();
    const ticks: number[] = [];
    const clock = makeClock(time, (tick) => ticks.push(tick));
    clock.start();
    time.advance(50);
    clock.stop();
    expect(clock.running).toBe(false);
    expect(time.pending).toBe(0);
    time.advance(1_000);
    expect(ticks).toEqual([0, 1, 2]);
    clock.start();
    time.advance(20);
    expect(ticks).toEqual([0, 1, 2, 0, 1]);
    clock.stop();
  });

  it("stop() from inside onTick delivers nothing more", () => {
    const time = new SimulatedTime();
    const ticks: number[] = [];
    const clock = makeClock(time, (tick) => {
      ticks.push(tick);
      if (tick === 3) clock.stop();
    });
    clock.start();
    time.advance(1_000);
    expect(ticks).toEqual([0, 1, 2, 3]);
    expect(time.pending).toBe(0);
  });

  it("keeps ticking when onTick throws: onError gets the error, or it is rethrown", () => {
    const time = new SimulatedTime();
    const errors: number[] = [];
    const clock = new FrameClock({
      onTick: (tick) => {
        if (tick === 1) throw new Error("mixer failed");
      },
      onError: (_error, tick) => errors.push(tick),
      now: () => time.now,
      scheduler: time,
    });
    clock.start();
    time.advance(100);
    expect(errors).toEqual([1]);
    expect(clock.ticks).toBe(6);
    clock.stop();

    const bare = makeClock(time, (tick) => {
      if (tick === 1) throw new Error("mixer failed");
    });
    bare.start();
    expect(() => time.advance(20)).toThrow("mixer failed");
    time.advance(40);
    expect(bare.ticks).toBe(4);
    bare.stop();
  });

  it("rejects a period or burst size that makes no sense", () => {
    expect(() => new FrameClock({ onTick: () => {}, periodMs: 0 })).toThrow(/period must be positive/);
    expect(() => new FrameClock({ onTick: () => {}, maxTicksPerWake: 0 })).toThrow(/maxTicksPerWake/);
  });
});
