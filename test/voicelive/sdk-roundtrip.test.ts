/**
 * Every session the builder can produce, for every documented model family and mode, survives
 * Microsoft's own serializer (@azure/ai-voicelive 1.1.0) unchanged: the SDK reads the wire JSON
 * into its model and writes it back, and a field it does not model would be dropped. The same
 * sessions are also ones the local server (the capability table) accepts.
 */
import { describe, expect, it } from "vitest";
// The serializers are not exported from the package root; they are the SDK's wire mapping.
import {
  requestSessionSerializer,
  responseSessionDeserializer,
} from "../../node_modules/@azure/ai-voicelive/dist/esm/models/models.js";
import { personaRules } from "../../src/bridge/persona-rules.ts";
import { buildSessionConfig, type SessionOptions } from "../../src/bridge/persona-session.ts";
import { capabilityProblem } from "../../src/local/capability-check.ts";
import { defaultPersona, type Persona, TURN_DETECTION_TYPES } from "../../src/persona.ts";
import { capabilitiesFor, type SessionTarget } from "../../src/voicelive/capabilities.ts";
import type { SessionConfig } from "../../src/voicelive/protocol.ts";

const TARGETS: readonly SessionTarget[] = [
  { model: "gpt-realtime", apiVersion: "2025-10-01", agentMode: false },
  { model: "gpt-realtime-mini", apiVersion: "2026-07-15", agentMode: false },
  { model: "azure-realtime", apiVersion: "2026-04-10", agentMode: false },
  { model: "azure-realtime", apiVersion: "2026-07-15", agentMode: false },
  { model: "phi4-mm-realtime", apiVersion: "2026-07-15", agentMode: false },
  { model: "gpt-4.1", apiVersion: "2025-10-01", agentMode: false },
  { model: "gpt-5", apiVersion: "2026-07-15", agentMode: false },
  { model: undefined, apiVersion: "2026-07-15", agentMode: true },
];

const CUSTOM_ENDPOINT = "0f3c2a1b-1111-2222-3333-444455556666";

/** The persona voices for a target: one per listed voice type, plus a custom voice. */
function voicesFor(target: SessionTarget): { voice: string; voiceEndpointId: string | null }[] {
  const listed = personaRules(target).voices();
  const firsts = new Map<string, string>();
  for (const voice of listed) {
    const kind = /^[a-z]+$/.test(voice) ? (voice.length <= 7 ? voice : "native") : "azure";
    if (!firsts.has(kind)) firsts.set(kind, voice);
  }
  return [
    ...[...firsts.values()].map((voice) => ({ voice, voiceEndpointId: null })),
    { voice: "en-US-MyBrandNeural", voiceEndpointId: CUSTOM_ENDPOINT },
  ];
}

function* sessions(target: SessionTarget): Generator<[string, SessionConfig]> {
  const caps = capabilitiesFor(target);
  const base = defaultPersona({ instructions: "Be brief.", voice: "alloy" });
  const optionSets: readonly SessionOptions[] = [
    {},
    { transcriptionModel: null },
    { inputSampleRate: 16000 },
    {
      turnDetection: {
        removeFillerWords: true,
        endOfUtteranceDetection: { model: "semantic_detection_v1", threshold_level: "low", timeout_ms: 900 },
      },
    },
    { turnDetection: null, maxResponseOutputTokens: 512 },
  ];
  for (const voice of voicesFor(target)) {
    for (const type of TURN_DETECTION_TYPES.filter((t) => caps.turnDetection.includes(t))) {
      for (const flags of [false, true]) {
        for (const language of [null, "en-US"]) {
          for (const [i, options] of optionSets.entries()) {
            if (target.agentMode && options.maxResponseOutputTokens !== undefined) continue;
            if (type === "semantic_vad" && options.turnDetection) continue;
            if (type === "server_vad" && options.turnDetection?.removeFillerWords) continue;
            const persona: Persona = {
              ...base,
              ...voice,
              turnDetection: { ...base.turnDetection, type },
              noiseSuppression: flags,
              echoCancellation: flags,
              transcriptionLanguage: language,
            };
            const built = buildSessionConfig(persona, { ...options, target });
            if (!built.ok) throw new Error(`${voice.voice}/${type}: ${built.problems.join("; ")}`);
            yield [`${voice.voice} ${type} flags=${flags} lang=${language} options#${i}`, built.config];
          }
        }
      }
    }
  }
}

/** Wire JSON without the `undefined` members a serializer leaves behind. */
function wire(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

describe.each(TARGETS)("sessions for $model (agent mode: $agentMode) at $apiVersion", (target) => {
  const all = [...sessions(target)];

  it("builds a non-trivial set of sessions", () => {
    expect(all.length).toBeGreaterThan(20);
  });

  it("the official SDK serializer round-trips every one without dropping a field", () => {
    for (const [name, session] of all) {
      const roundTripped = wire(requestSessionSerializer(responseSessionDeserializer(session)));
      expect({ name, session: roundTripped }).toEqual({ name, session: wire(session) });
    }
  });

  it("the local server's capability checks accept every one", () => {
    const origin = {
      id: "sess_1",
      apiVersion: target.apiVersion,
      model: target.model,
      agentName: target.agentMode ? "helper" : undefined,
    };
    for (const [name, session] of all) {
      expect({ name, problem: capabilityProblem(session as Record<string, unknown>, origin) }).toEqual({
        name,
        problem: undefined,
      });
    }
  });
});
