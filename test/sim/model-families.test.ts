/**
 * `npm run simulate -- --backend azure` against a stand-in that enforces Microsoft's documented
 * rules (the local server, as strict as the capability table): one spoken turn per documented
 * model family, with the defaults the configuration picks for that model. Agent mode needs an
 * Entra token, which the CLI only gets from a real sign-in, so it runs through the same harness
 * the CLI uses, with a test credential.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TokenCredential } from "@azure/identity";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readWav } from "../../src/audio/wav.ts";
import { type LocalVoiceLiveServer, startLocalVoiceLiveServer } from "../../src/local/server.ts";
import { defaultPersona } from "../../src/persona.ts";
import { discordFramesFromWav, SimHarness } from "../../src/sim/harness.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const WEATHER = "test/fixtures/speech-weather-question.wav";
const KEY = "stand-in-key-0123456789";
const TOKEN = "stand-in-entra-token-0123456789";

let server: LocalVoiceLiveServer;
let dir: string;
beforeAll(async () => {
  server = await startLocalVoiceLiveServer({ apiKey: KEY, bearerToken: TOKEN });
  dir = await mkdtemp(join(tmpdir(), "families-"));
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

function simulate(env: Record<string, string>, report: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [
        "--disable-warning=ExperimentalWarning",
        "src/sim/simulate.ts",
        "--backend",
        "azure",
        "--input",
        WEATHER,
        "--report",
        report,
        "--idle-ms",
        "1500",
      ],
      {
        cwd: ROOT,
        timeout: 50_000,
        env: {
          PATH: process.env.PATH ?? "",
          HOME: process.env.HOME ?? "",
          LOG_LEVEL: "warn",
          AZURE_VOICELIVE_ENDPOINT: server.url,
          AZURE_VOICELIVE_API_KEY: KEY,
          ...env,
        },
      },
      (error, _stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        resolve({ code, stderr });
      },
    );
  });
}

describe("one turn per documented model family against the stand-in", () => {
  it.each([
    ["gpt-realtime", "2026-07-15"],
    ["gpt-realtime-mini", "2025-10-01"],
    ["azure-realtime", "2026-07-15"],
    ["phi4-mm-realtime", "2026-07-15"],
    ["gpt-4.1", "2026-04-10"],
  ])("%s at %s", { timeout: 60_000 }, async (model, apiVersion) => {
    const report = join(dir, `${model}-${apiVersion}.json`);
    const run = await simulate(
      { AZURE_VOICELIVE_MODEL: model, AZURE_VOICELIVE_API_VERSION: apiVersion },
      report,
    );
    expect(run.stderr).toMatch(/^simulate: azure backend/m);
    expect(run.code).toBe(0);
    const r = JSON.parse(await readFile(report, "utf8"));
    expect(r.errors).toEqual([]);
    expect(r.responses.map((response: { status: string }) => response.status)).toEqual(["completed"]);
    expect(r.botAudioMsPlayed).toBeGreaterThan(1000);
    // The one session.update was accepted: a refused one would show as an error above.
    expect(r.clientEvents[0]).toEqual({ type: "session.update", count: 1 });
  });

  it("refuses at start-up, before the stand-in sees it, a voice the model cannot use", async () => {
    const run = await simulate(
      { AZURE_VOICELIVE_MODEL: "gpt-4.1", PERSONA_DEFAULT_VOICE: "alloy" },
      join(dir, "refused.json"),
    );
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/PERSONA_DEFAULT_VOICE: "alloy" is a openai voice, which model gpt-4.1/);
  });

  it("agent mode: Entra only, no instructions or temperature sent, and the turn completes", {
    timeout: 60_000,
  }, async () => {
    const credential: TokenCredential = {
      getToken: async () => ({ token: TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 }),
    };
    const harness = await SimHarness.start({
      backend: {
        kind: "azure",
        azure: {
          endpoint: server.url,
          apiKey: undefined,
          model: "gpt-realtime",
          apiVersion: "2026-07-15",
          agent: { name: "helper", project: "proj", version: undefined },
          tokenScope: "https://ai.azure.com/.default",
        },
        credential,
      },
    });
    try {
      const guild = await harness.join({
        persona: defaultPersona({ instructions: "Be brief.", voice: "en-US-AvaMultilingualNeural" }),
      });
      const user = await guild.addUser();
      const frames = discordFramesFromWav(readWav(await readFile(join(ROOT, WEATHER))));
      const spokeAt = performance.now();
      await guild.speak(user, { pcm: frames });
      expect(await guild.waitForBotAudio(spokeAt, 20_000)).toBeDefined();
      // The stand-in refuses instructions, temperature and OpenAI-only settings in agent mode
      // (capability-check.ts): one accepted session.update and an answer show none were sent.
      const log = server.clientEvents.at(-1);
      expect(log?.types.filter((type) => type === "session.update")).toEqual(["session.update"]);
    } finally {
      await harness.close();
    }
  });
});
