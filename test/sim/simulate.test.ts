import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isSilent } from "../../src/audio/pcm.ts";
import { readWav, writeWav } from "../../src/audio/wav.ts";
import { discordFramesFromWav, lastSpeechFrame } from "../../src/sim/harness.ts";

/** `npm run simulate` as an operator runs it: a child process, its exit code, its files. */

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const WEATHER = "test/fixtures/speech-weather-question.wav";

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function simulate(args: readonly string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--disable-warning=ExperimentalWarning", "src/sim/simulate.ts", ...args],
      { cwd: ROOT, timeout: 40_000, env: { ...process.env, LOG_LEVEL: "warn" } },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The first `ms` of a fixture, as its own WAV file. */
async function excerpt(dir: string, fixture: string, ms: number): Promise<string> {
  const wav = readWav(await readFile(join(ROOT, "test/fixtures", fixture)));
  const samples = wav.samples.subarray(0, (wav.sampleRate * ms) / 1000);
  const path = join(dir, `${ms}-${fixture}`);
  await writeFile(path, writeWav({ ...wav, samples }));
  return path;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "simulate-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("npm run simulate", () => {
  it("runs a turn through the whole bot path and writes the report, the output and the heard audio", async () => {
    const [report, output, heard] = ["r.json", "out.wav", "heard.wav"].map((name) => join(dir, name));
    const run = await simulate([
      "--input",
      WEATHER,
      "--report",
      report!,
      "--output",
      output!,
      "--heard",
      heard!,
      "--idle-ms",
      "1500",
    ]);
    expect(run.stderr).toMatch(/^simulate: local backend/m);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("");

    const r = JSON.parse(await readFile(report!, "utf8"));
    expect(r.backend).toBe("local");
    expect(r.inputRateHz).toBe(24_000);
    // One event per 20 ms frame, or per two when a late frame was waited for.
    expect(r.appendEvents * 20).toBeLessThanOrEqual(r.audioMsAppended);
    expect(r.appendEvents * 40).toBeGreaterThanOrEqual(r.audioMsAppended);
    expect(r.audioMsAppendedAfterLastSpeech).toBe(1000);
    expect(r.botAudioMsPlayed).toBeGreaterThan(3000);
    expect(r.firstBotAudioMs).toBeGreaterThan(500);
    for (const figures of [r.bridgeInputLatencyMs, r.bridgeOutputLatencyMs]) {
      expect(figures.p50).toBeGreaterThanOrEqual(0);
      expect(figures.p99).toBeGreaterThanOrEqual(figures.p50);
    }
    expect(r.bargeIn).toBeNull();
    expect(r.responses.map((response: { status: string }) => response.status)).toEqual(["completed"]);
    // The configuration, then the speech, with the note naming its speaker created during it, and
    // (smart turn-taking) the bot asking for the answer once the turn is committed.
    expect(r.clientEvents.map((run: { type: string }) => run.type)).toEqual([
      "session.update",
      "input_audio_buffer.append",
      "conversation.item.create",
      "input_audio_buffer.append",
      "response.create",
      "input_audio_buffer.append",
    ]);
    expect(r.speakersAttributed).toBe(1);
    expect(r.toolCalls).toEqual([]);
    expect(r.errors).toEqual([]);
    // The simulated member joined the bot through Discord: /join deferred, then edited once, public.
    expect(r.discord.interactions).toEqual([
      { command: "/join", responses: ["defer", "edit-original"], ephemeral: false, ms: expect.any(Number) },
    ]);
    expect(r.discord.messages).toEqual([]);
    // Through DAVE by default: one epoch for the bot and the speaker, nothing lost to it.
    expect(r.dave).toMatchObject({ protocolVersion: 1, epochs: 1, decryptFailures: 0, recoveries: 0 });

    const heardWav = readWav(await readFile(heard!));
    expect(heardWav).toMatchObject({ sampleRate: 24_000, channels: 1 });
    expect(heardWav.samples.length).toBe(r.audioMsAppended * 24);

    // The bot's answer sits on the input's timeline: it starts firstBotAudioMs after the input's
    // last speech frame was sent.
    const out = readWav(await readFile(output!));
    expect(out).toMatchObject({ sampleRate: 48_000, channels: 2 });
    const frames = discordFramesFromWav(out);
    expect(frames.length * 20).toBeGreaterThanOrEqual(r.durationMs - 20);
    const firstSound = frames.findIndex((frame) => !isSilent(frame));
    const speechEnd = lastSpeechFrame(discordFramesFromWav(readWav(await readFile(join(ROOT, WEATHER)))));
    expect(Math.abs(firstSound * 20 - (speechEnd * 20 + r.firstBotAudioMs))).toBeLessThanOrEqual(60);
    // One answer, laid out contiguously: from its first to its last sound, as long as it played.
    const lastSound = frames.findLastIndex((frame) => !isSilent(frame));
    expect(Math.abs((lastSound - firstSound + 1) * 20 - r.botAudioMsPlayed)).toBeLessThanOrEqual(100);
  });

  it("ends with a clear message and exit 2 when the input file is missing", async () => {
    const report = join(dir, "missing.json");
    const run = await simulate(["--input", join(dir, "nope.wav"), "--report", report]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`--input ${join(dir, "nope.wav")}: no such file`);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    await expect(readFile(report)).rejects.toThrow();
  });

  it("cuts the bot off when a second user interrupts it", async () => {
    const input = await excerpt(dir, "speech-weather-question.wav", 2500);
    const interruption = await excerpt(dir, "speech-interruption.wav", 1000);
    const report = join(dir, "interrupt.json");
    const run = await simulate([
      "--input",
      input,
      "--interrupt-with",
      interruption,
      "--interrupt-at-ms",
      "1000",
      "--report",
      report,
      "--idle-ms",
      "500",
    ]);
    expect(run.code).toBe(0);
    const r = JSON.parse(await readFile(report, "utf8"));
    expect(r.bargeIn).not.toBeNull();
    expect(r.bargeIn.botFramesAfterSpeechStarted).toBeLessThanOrEqual(1);
    expect(r.bargeIn.speechStartedAtMs).toBeGreaterThan(0);
    // Cancelled only if the answer was still being generated when the user cut in.
    const answer = r.responses[0];
    expect(r.bargeIn.responseCancelSent).toBe(answer.status === "cancelled" || answer.atMs > r.bargeIn.atMs);
    expect(r.bargeIn.truncateAudioEndMs).toBe(r.bargeIn.playedMsAtCut);
    expect(r.bargeIn.playedMsAtCut).toBeLessThan(r.bargeIn.receivedMsAtCut);
    expect(r.truncations[0].audioEndMs).toBe(r.bargeIn.truncateAudioEndMs);
    expect(r.clientEvents.map((event: { type: string }) => event.type)).toContain(
      "conversation.item.truncate",
    );
    expect(r.errors).toEqual([]);
    expect(r.dave.protocolVersion).toBe(1);
  });

  it("keeps a 10 s answer audible while a visitor joins or leaves every 1.5 s", async () => {
    const parts = await Promise.all(
      ["speech-weather-question.wav", "speech-meeting-summary.wav"].map(async (name) =>
        readWav(await readFile(join(ROOT, "test/fixtures", name))),
      ),
    );
    // Without the pause between them (longer than the VAD's 500 ms), they are one 10 s question.
    const [first, second] = [parts[0]!.samples, parts[1]!.samples];
    const loud = (x: number): boolean => Math.abs(x) > 300;
    const firstEnd = first.findLastIndex(loud) + 1;
    const secondStart = second.findIndex(loud);
    const joined = new Int16Array(firstEnd + second.length - secondStart);
    joined.set(first.subarray(0, firstEnd), 0);
    joined.set(second.subarray(secondStart), firstEnd);
    const input = join(dir, "eleven-seconds.wav");
    await writeFile(input, writeWav({ ...parts[0]!, samples: joined }));
    const report = join(dir, "churn.json");
    const run = await simulate(["--input", input, "--member-churn-ms", "1500", "--report", report]);
    expect(run.code).toBe(0);
    const r = JSON.parse(await readFile(report, "utf8"));
    expect(r.errors).toEqual([]);
    expect(r.responses.map((response: { status: string }) => response.status)).toEqual(["completed"]);
    expect(r.dave.memberChanges).toBeGreaterThanOrEqual(10);
    // Every change is a commit; changes close together may share one.
    expect(r.dave.epochs).toBeGreaterThanOrEqual(r.dave.memberChanges / 2);
    expect(r.inputMs).toBeGreaterThan(10_000);
    // The echo is the speech without its edges: 8.9 s of this input, measured with and without churn.
    expect(r.botAudioMsPlayed).toBeGreaterThan(8_500);
    expect(r.dave.decryptFailures).toBeLessThanOrEqual(r.dave.epochs);
  });

  it("--dave off runs on transport encryption alone and says so", async () => {
    const input = await excerpt(dir, "speech-weather-question.wav", 1500);
    const report = join(dir, "dave-off.json");
    const run = await simulate(["--input", input, "--dave", "off", "--report", report]);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/DAVE off/);
    const r = JSON.parse(await readFile(report, "utf8"));
    expect(r.dave).toMatchObject({ protocolVersion: 0, epochs: 0 });
    expect(r.botAudioMsPlayed).toBeGreaterThan(500);
    expect((await simulate(["--input", input, "--dave", "maybe"])).code).toBe(2);
  });
});
