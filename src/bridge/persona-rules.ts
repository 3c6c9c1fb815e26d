import {
  AZURE_VOICES,
  OPENAI_VOICES,
  type Persona,
  type PersonaChange,
  type PersonaRules,
  REALTIME_NATIVE_VOICES,
  voiceKind,
} from "../persona.ts";
import { capabilitiesFor, listed, type SessionTarget, type VoiceType } from "../voicelive/capabilities.ts";
import { buildSessionConfig } from "./persona-session.ts";

/**
 * The persona checks for one deployment: what `/persona set` may save and which voices
 * autocomplete offers, both read from the capability table so they never disagree with what the
 * session builder sends. A refused change names the persona option the user typed.
 */

/** Voice names per wire voice type, for autocomplete (custom and personal voices are not listed). */
const VOICES_BY_TYPE: Readonly<Partial<Record<VoiceType, readonly string[]>>> = {
  openai: OPENAI_VOICES,
  "azure-realtime-native": REALTIME_NATIVE_VOICES,
  "azure-standard": AZURE_VOICES,
};

const KIND_LABEL: Readonly<Record<VoiceType, string>> = {
  openai: "an OpenAI voice",
  "azure-standard": "an Azure voice",
  "azure-custom": "an Azure custom voice",
  "azure-personal": "an Azure personal voice",
  "azure-realtime-native": "an azure-realtime voice",
};

export function personaRules(target: SessionTarget): PersonaRules {
  const caps = capabilitiesFor(target);
  const voices = caps.voiceTypes.flatMap((type) => VOICES_BY_TYPE[type] ?? []);
  return {
    voices: () => voices,
    check(persona: Persona, change: PersonaChange): string[] {
      const problems: string[] = [];
      const kind = voiceKind(persona);
      if (!caps.voiceTypes.includes(kind)) {
        const examples = voices.slice(0, 3).join(", ");
        problems.push(
          `voice: "${persona.voice.slice(0, 60)}" is ${KIND_LABEL[kind]}, not available with ${caps.label}; it takes ${listed(caps.voiceTypes)} voices (for example ${examples})`,
        );
      }
      const type = persona.turnDetection.type;
      if (!caps.turnDetection.includes(type)) {
        problems.push(
          `turn_detection: ${type} is not available with ${caps.label}; it accepts ${listed(caps.turnDetection)}`,
        );
      }
      if (change.temperature !== undefined && caps.temperature === undefined) {
        problems.push("temperature: in agent mode the agent's own temperature applies; it is not sent");
      }
      if (problems.length > 0) return problems;
      // Anything else the table refuses, by wire field, so nothing is saved that the builder would not send.
      const built = buildSessionConfig(persona, { target });
      return built.ok ? [] : [...built.problems];
    },
  };
}
