import {
  applyPersonaChange,
  type CaptionSettings,
  type ListenPolicy,
  type Persona,
  type PersonaChange,
} from "../persona.ts";

/**
 * Turns stored column values back into settings, trusting nothing: a row written by another build,
 * edited by hand or damaged on disk yields a problem to log, never an exception or a half-valid value.
 */

export type Decoded<T> = { ok: true; value: T } | { ok: false; problem: string };

const SNOWFLAKE = /^\d{17,20}$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

type FieldType = "string" | "number" | "boolean" | "string-or-null" | "string-array";

const PERSONA_FIELDS: Readonly<Record<Exclude<keyof Persona, "turnDetection">, FieldType>> = {
  instructions: "string",
  voice: "string",
  voiceEndpointId: "string-or-null",
  temperature: "number",
  noiseSuppression: "boolean",
  echoCancellation: "boolean",
  transcriptionLanguage: "string-or-null",
  ducking: "boolean",
  attribution: "boolean",
  tools: "string-array",
  timeZone: "string",
  turnTaking: "string",
  minInterruptionMs: "number",
  wakeName: "string-or-null",
  wakeMode: "string",
  followUpSeconds: "number",
};

const TURN_DETECTION_FIELDS: Readonly<Record<keyof Persona["turnDetection"], FieldType>> = {
  type: "string",
  threshold: "number",
  silenceDurationMs: "number",
  prefixPaddingMs: "number",
};

/** Copies the fields present with their expected type; names the ones present with another type. */
function pickTyped(
  record: Record<string, unknown>,
  fields: Readonly<Record<string, FieldType>>,
  wrong: string[],
  prefix = "",
): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const [key, type] of Object.entries(fields)) {
    const value = record[key];
    if (value === undefined) continue;
    const fits =
      type === "string-or-null"
        ? value === null || typeof value === "string"
        : type === "string-array"
          ? Array.isArray(value) && value.every((item) => typeof item === "string")
          : typeof value === type;
    if (fits) picked[key] = value;
    else wrong.push(prefix + key);
  }
  return picked;
}

/**
 * A stored persona is laid over the defaults and validated as a whole by the same rules a user's
 * change goes through. Fields missing from an older row take the default; a wrongly typed field
 * rejects the row.
 */
export function decodePersona(json: string, defaults: Persona): Decoded<Persona> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return { ok: false, problem: "persona is not valid JSON" };
  }
  if (!isRecord(parsed)) return { ok: false, problem: "persona is not a JSON object" };
  const wrong: string[] = [];
  const change = pickTyped(parsed, PERSONA_FIELDS, wrong);
  if (isRecord(parsed.turnDetection)) {
    change.turnDetection = pickTyped(parsed.turnDetection, TURN_DETECTION_FIELDS, wrong, "turnDetection.");
  } else if (parsed.turnDetection !== undefined) {
    wrong.push("turnDetection");
  }
  if (wrong.length > 0)
    return { ok: false, problem: `persona has wrongly typed fields: ${wrong.join(", ")}` };
  // Every field was type-checked against Persona above; applyPersonaChange checks the values.
  const result = applyPersonaChange(defaults, change as PersonaChange);
  return result.ok
    ? { ok: true, value: result.persona }
    : { ok: false, problem: `persona: ${result.problems.join("; ")}` };
}

export function decodeCaptions(enabled: unknown, channelId: unknown): Decoded<CaptionSettings> {
  if (enabled !== 0 && enabled !== 1) return { ok: false, problem: "captions_enabled is neither 0 nor 1" };
  if (channelId !== null && (typeof channelId !== "string" || !SNOWFLAKE.test(channelId))) {
    return { ok: false, problem: "captions_channel_id is not a channel id" };
  }
  return { ok: true, value: { enabled: enabled === 1, channelId } };
}

export function decodeListenPolicy(mode: unknown, roleId: unknown): Decoded<ListenPolicy> {
  if (mode === "everyone" || mode === "initiator") return { ok: true, value: { mode } };
  if (mode === "role") {
    if (typeof roleId === "string" && SNOWFLAKE.test(roleId)) return { ok: true, value: { mode, roleId } };
    return { ok: false, problem: "listen_role_id is not a role id" };
  }
  return { ok: false, problem: `listen_mode ${JSON.stringify(String(mode).slice(0, 20))} is unknown` };
}
