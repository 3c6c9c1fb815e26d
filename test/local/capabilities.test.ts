/**
 * Model × API version × setting: the bot's validator and the local server must both accept
 * exactly what Microsoft documents. The expectations are written out here from the docs (not
 * read from src/voicelive/capabilities.ts), so a wrong table entry fails on both sides.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalVoiceLiveServer, startLocalVoiceLiveServer } from "../../src/local/server.ts";
import type { SessionConfig } from "../../src/voicelive/protocol.ts";
import { validateSessionConfig } from "../../src/voicelive/session-config.ts";
import { TestClient } from "./helpers.ts";

type Family = "gpt-realtime" | "azure-realtime" | "phi" | "cascaded";
const MODELS: readonly (readonly [string, Family])[] = [
  ["gpt-realtime", "gpt-realtime"],
  ["gpt-realtime-mini", "gpt-realtime"],
  ["azure-realtime", "azure-realtime"],
  ["phi4-mm-realtime", "phi"],
  ["gpt-4.1", "cascaded"],
  ["gpt-5-mini", "cascaded"],
];
const VERSIONS = ["2025-10-01", "2026-01-01-preview", "2026-04-10", "2026-06-01-preview", "2026-07-15"];
/** Versions with the 2026-06-01-preview additions (realtime-native voices, smart end of turn). */
const JUNE_2026 = new Set(["2026-06-01-preview", "2026-07-15"]);

const td = (type: string, extra: Record<string, unknown> = {}): SessionConfig =>
  ({
    turn_detection:
      type === "semantic_vad"
        ? { type }
        : { type, create_response: true, interrupt_response: true, ...extra },
  }) as SessionConfig;

interface Case {
  readonly name: string;
  readonly patch: SessionConfig;
  /** The documented rule: is the setting accepted for this family at this version? */
  readonly allowed: (family: Family, version: string) => boolean;
}

const realtime = (f: Family): boolean => f === "gpt-realtime";
const always = (): boolean => true;

const CASES: readonly Case[] = [
  // OpenAI voices: gpt-realtime models [D25 voice table].
  { name: "openai voice", patch: { voice: { type: "openai", name: "alloy" } }, allowed: realtime },
  { name: "legacy voice string", patch: { voice: "alloy" }, allowed: realtime },
  {
    name: "azure-standard voice",
    patch: { voice: { type: "azure-standard", name: "en-US-AvaNeural" } },
    allowed: always,
  },
  // azure-realtime-native: model azure-realtime, 2026-06-01-preview on [SDK; D26].
  {
    name: "azure-realtime-native voice",
    patch: { voice: { type: "azure-realtime-native", name: "ava" } },
    allowed: (f, v) => f === "azure-realtime" && JUNE_2026.has(v),
  },
  // semantic_vad: gpt-realtime(-mini) only; azure_semantic_vad*: all models [D25 turn_detection].
  { name: "semantic_vad", patch: td("semantic_vad"), allowed: realtime },
  { name: "azure_semantic_vad", patch: td("azure_semantic_vad"), allowed: always },
  { name: "azure_semantic_vad_multilingual", patch: td("azure_semantic_vad_multilingual"), allowed: always },
  {
    name: "semantic_detection_v1 end of utterance",
    patch: td("server_vad", { end_of_utterance_detection: { model: "semantic_detection_v1" } }),
    allowed: always,
  },
  // smart_end_of_turn_detection: not in the 2025-10-01 enum; 2026-06-01-preview on [D26].
  {
    name: "smart_end_of_turn_detection",
    patch: td("server_vad", { end_of_utterance_detection: { model: "smart_end_of_turn_detection" } }),
    allowed: (_f, v) => JUNE_2026.has(v),
  },
  // near_field / far_field: gpt-realtime(-mini) only [D25 input_audio_noise_reduction].
  {
    name: "near_field noise reduction",
    patch: { input_audio_noise_reduction: { type: "near_field" } },
    allowed: realtime,
  },
  {
    name: "far_field noise reduction",
    patch: { input_audio_noise_reduction: { type: "far_field" } },
    allowed: realtime,
  },
  {
    name: "deep noise suppression",
    patch: { input_audio_noise_reduction: { type: "azure_deep_noise_suppression" } },
    allowed: always,
  },
  {
    name: "server echo cancellation",
    patch: { input_audio_echo_cancellation: { type: "server_echo_cancellation" } },
    allowed: always,
  },
  // Transcription: OpenAI models only on gpt-realtime, with one ISO-639-1 code; azure-speech
  // (BCP-47 or a list) for the others [D25 input_audio_transcription].
  { name: "whisper-1", patch: { input_audio_transcription: { model: "whisper-1" } }, allowed: realtime },
  {
    name: "gpt-4o-transcribe with en",
    patch: { input_audio_transcription: { model: "gpt-4o-transcribe", language: "en" } },
    allowed: realtime,
  },
  {
    name: "gpt-4o-transcribe with en-US",
    patch: { input_audio_transcription: { model: "gpt-4o-transcribe", language: "en-US" } },
    allowed: () => false,
  },
  {
    name: "azure-speech with en-US,de-DE",
    patch: { input_audio_transcription: { model: "azure-speech", language: "en-US,de-DE" } },
    allowed: (f) => !realtime(f),
  },
  // Session temperature [0.6, 1.2] [D25; SDK].
  { name: "temperature 0.6", patch: { temperature: 0.6 }, allowed: always },
  { name: "temperature 0.5", patch: { temperature: 0.5 }, allowed: () => false },
];

/** A target the docs allow: azure-realtime arrived with 2026-01-01-preview. */
function validTarget(family: Family, version: string): boolean {
  return family !== "azure-realtime" || version !== "2025-10-01";
}

let server: LocalVoiceLiveServer;
beforeAll(async () => {
  server = await startLocalVoiceLiveServer();
});
afterAll(async () => {
  await server.close();
});

/** Sends each patch on one connection (a fresh one before the service's five-failure close). */
async function localVerdicts(
  query: Record<string, string>,
  patches: readonly SessionConfig[],
): Promise<boolean[]> {
  const verdicts: boolean[] = [];
  let client = await TestClient.connect(server.url, { query });
  await client.waitFor("session.created");
  let failures = 0;
  for (const patch of patches) {
    if (failures === 4) {
      await client.close();
      client = await TestClient.connect(server.url, { query });
      await client.waitFor("session.created");
      failures = 0;
    }
    const before = client.events.length;
    client.send({ type: "session.update", session: patch });
    const answer = await Promise.race([
      client.waitFor("session.updated", () => true, before),
      client.waitFor("error", () => true, before),
    ]);
    if (answer.type === "error") failures++;
    verdicts.push(answer.type === "session.updated");
  }
  await client.close();
  return verdicts;
}

describe.each(MODELS)("model %s", (model, family) => {
  describe.each(VERSIONS.filter((v) => validTarget(family, v)))("api-version %s", (version) => {
    const target = { model, apiVersion: version, agentMode: false };

    it.each(CASES.map((c) => [c.name, c] as const))("%s: the validator follows the docs", (_name, c) => {
      const result = validateSessionConfig(c.patch, { target });
      expect(result.ok).toBe(c.allowed(family, version));
      if (!result.ok && c.allowed(family, version) === false) {
        // The message names a field and what the configured model accepts (or the range).
        expect(result.problems[0]).toMatch(/^[a-z_.]+: /);
      }
    });

    it("the local server accepts and refuses exactly the same settings", async () => {
      const verdicts = await localVerdicts(
        { "api-version": version, model },
        CASES.map((c) => c.patch),
      );
      expect(Object.fromEntries(CASES.map((c, i) => [c.name, verdicts[i]]))).toEqual(
        Object.fromEntries(CASES.map((c) => [c.name, c.allowed(family, version)])),
      );
    });
  });
});

describe("agent mode", () => {
  const target = { model: undefined, apiVersion: "2026-07-15", agentMode: true };
  // The agent owns instructions, temperature and tools [AgentSessionConfig]; speech settings are
  // the ones every model takes.
  const AGENT_CASES: readonly (readonly [string, SessionConfig, boolean])[] = [
    ["instructions", { instructions: "be brief" }, false],
    ["temperature", { temperature: 0.8 }, false],
    ["azure voice", { voice: { type: "azure-standard", name: "en-US-AvaNeural" } }, true],
    ["openai voice", { voice: { type: "openai", name: "alloy" } }, false],
    ["azure_semantic_vad", td("azure_semantic_vad"), true],
    ["azure-speech", { input_audio_transcription: { model: "azure-speech", language: "en-US" } }, true],
  ];

  it.each(AGENT_CASES)(
    "%s: validator and local server agree with the docs",
    async (_name, patch, allowed) => {
      expect(validateSessionConfig(patch, { target }).ok).toBe(allowed);
      const query = { "api-version": "2026-07-15", "agent-name": "helper", "agent-project-name": "proj" };
      expect(await localVerdicts(query, [patch])).toEqual([allowed]);
    },
  );
});
