/** The energy VAD on plain PCM: thresholds, padding, timing in audio samples, chunking. */
import { describe, expect, it } from "vitest";
import { EnergyVad, thresholdToDbfs, type VadSettings } from "../../src/local/vad.ts";

const RATE = 24_000;
const SETTINGS: VadSettings = {
  threshold: 0.5,
  prefixPaddingMs: 300,
  silenceDurationMs: 500,
  speechDurationMs: 200,
};

/** A 300 Hz sine at `dbfs` RMS for `ms`, or silence when dbfs is -Infinity. */
function signal(ms: number, dbfs = Number.NEGATIVE_INFINITY): Int16Array {
  const out = new Int16Array((ms * RATE) / 1000);
  const amplitude = 32768 * Math.SQRT2 * 10 ** (dbfs / 20);
  for (let i = 0; i < out.length; i++)
    out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * 300 * i) / RATE));
  return out;
}

function concat(...parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Runs the VAD over `pcm` in `chunk`-sample pieces; returns events as [kind, ms]. */
function run(pcm: Int16Array, settings: VadSettings = SETTINGS, chunk = 480): [string, number][] {
  const events: [string, number][] = [];
  const vad = new EnergyVad(settings, RATE, {
    onSpeechStarted: (s) => events.push(["started", (s * 1000) / RATE]),
    onSpeechStopped: (s) => events.push(["stopped", (s * 1000) / RATE]),
  });
  for (let i = 0; i < pcm.length; i += chunk) vad.process(pcm.subarray(i, i + chunk));
  return events;
}

describe("EnergyVad", () => {
  it("finds one utterance, reaching back by the prefix padding, and ends it after the silence", () => {
    const pcm = concat(signal(1000), signal(1500, -20), signal(800));
    expect(run(pcm)).toEqual([
      ["started", 700],
      ["stopped", 2500],
    ]);
  });

  it("maps threshold 0..1 onto -70..-10 dBFS", () => {
    expect(thresholdToDbfs(0)).toBe(-70);
    expect(thresholdToDbfs(0.5)).toBe(-40);
    expect(thresholdToDbfs(1)).toBe(-10);
    const quiet = concat(signal(500), signal(1000, -45), signal(800));
    expect(run(quiet)).toEqual([]);
    expect(run(quiet, { ...SETTINGS, threshold: 0.3 })).toHaveLength(2);
  });

  it("ignores a click shorter than speech_duration_ms", () => {
    expect(run(concat(signal(500), signal(100, -10), signal(1000)))).toEqual([]);
    expect(
      run(concat(signal(500), signal(100, -10), signal(1000)), { ...SETTINGS, speechDurationMs: 0 }),
    ).toHaveLength(2);
  });

  it("keeps a pause shorter than silence_duration_ms inside the utterance, and splits on a longer one", () => {
    const words = concat(signal(500), signal(600, -25), signal(400), signal(600, -25), signal(700));
    expect(run(words)).toEqual([
      ["started", 200],
      ["stopped", 2100],
    ]);
    expect(run(words, { ...SETTINGS, silenceDurationMs: 300 })).toEqual([
      ["started", 200],
      ["stopped", 1100],
      ["started", 1200],
      ["stopped", 2100],
    ]);
    // Padding never reaches back into the previous utterance.
    expect(run(words, { ...SETTINGS, silenceDurationMs: 300, prefixPaddingMs: 600 })).toEqual([
      ["started", 0],
      ["stopped", 1100],
      ["started", 1100],
      ["stopped", 2100],
    ]);
  });

  it("counts audio time, not calls: any chunking gives the same events", () => {
    const pcm = concat(signal(730), signal(1210, -30), signal(650), signal(400, -18), signal(900));
    const reference = run(pcm, SETTINGS, pcm.length);
    expect(reference).toHaveLength(4);
    expect(run(pcm, SETTINGS, 1)).toEqual(reference);
    expect(run(pcm, SETTINGS, 333)).toEqual(reference);
  });

  it("never pads back before the buffer start after a reset", () => {
    const events: number[] = [];
    const vad = new EnergyVad(SETTINGS, RATE, {
      onSpeechStarted: (s) => events.push(s),
      onSpeechStopped: () => {},
    });
    vad.process(signal(1000));
    vad.reset();
    vad.process(signal(100));
    vad.process(signal(500, -20));
    expect(events).toEqual([(1000 * RATE) / 1000]);
  });
});
