/**
 * Start-up refusals for Azure combinations the capability table marks impossible, and the agent
 * URL parameters: each refusal is one line naming the variable, and nothing else is loaded.
 */
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, sessionTarget } from "../../src/config.ts";
import { buildVoiceLiveUrl } from "../../src/voicelive/url.ts";

const TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB";
const KEY = "0123456789abcdef0123456789abcdef";
const ENDPOINT = "https://res.services.ai.azure.com";
const AGENT = { AZURE_VOICELIVE_AGENT_NAME: "helper", AZURE_VOICELIVE_AGENT_PROJECT: "proj" };

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig({ DISCORD_TOKEN: TOKEN, AZURE_VOICELIVE_ENDPOINT: ENDPOINT, ...env });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("start-up refusals", () => {
  it.each([
    [
      "agent mode with an API key",
      { ...AGENT, AZURE_VOICELIVE_API_KEY: KEY },
      /^AZURE_VOICELIVE_API_KEY must be unset in agent mode: .*Microsoft Entra ID/,
    ],
    [
      "the v1 label (OpenAI GA event shape)",
      { AZURE_VOICELIVE_API_VERSION: "v1" },
      /api-version v1 uses the OpenAI GA event shape .* use 2026-07-15/,
    ],
    [
      "a version older than Voice Live",
      { AZURE_VOICELIVE_API_VERSION: "2024-10-01-preview" },
      /api-version 2024-10-01-preview is not a Voice Live version/,
    ],
    [
      "azure-realtime before the version that added it",
      { AZURE_VOICELIVE_MODEL: "azure-realtime", AZURE_VOICELIVE_API_VERSION: "2025-10-01" },
      /model azure-realtime needs api-version 2026-01-01-preview or later \(got 2025-10-01\)/,
    ],
    [
      "an OpenAI default voice on a cascaded model",
      { AZURE_VOICELIVE_MODEL: "gpt-4.1", PERSONA_DEFAULT_VOICE: "alloy" },
      /^PERSONA_DEFAULT_VOICE: "alloy" is a openai voice, which model gpt-4.1 at api-version 2026-07-15 cannot use; it takes azure-standard/,
    ],
    [
      "a malformed managed identity client id",
      { ...AGENT, AZURE_VOICELIVE_AGENT_IDENTITY_CLIENT_ID: "not-a-guid" },
      /^AZURE_VOICELIVE_AGENT_IDENTITY_CLIENT_ID must be the client id \(a GUID\)/,
    ],
    [
      "a Foundry resource override with a path",
      { ...AGENT, AZURE_VOICELIVE_FOUNDRY_RESOURCE_OVERRIDE: "res/../x" },
      /^AZURE_VOICELIVE_FOUNDRY_RESOURCE_OVERRIDE must be a Foundry resource name/,
    ],
    [
      "an agent parameter without agent mode",
      { AZURE_VOICELIVE_FOUNDRY_RESOURCE_OVERRIDE: "other-res" },
      /^AZURE_VOICELIVE_FOUNDRY_RESOURCE_OVERRIDE is only used in agent mode/,
    ],
  ])("refuses %s with one line", (_name, env, expected) => {
    const problems = problemsOf(env);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(expected);
    expect(problems[0]).not.toContain("\n");
    expect(problems[0]).not.toContain(KEY);
  });

  it("accepts what the table allows, with defaults that fit the model", () => {
    expect(problemsOf({})).toEqual([]);
    expect(problemsOf({ ...AGENT })).toEqual([]);
    expect(problemsOf({ AZURE_VOICELIVE_API_VERSION: "2025-10-01", AZURE_VOICELIVE_API_KEY: KEY })).toEqual(
      [],
    );
    const cascaded = loadConfig({
      DISCORD_TOKEN: TOKEN,
      AZURE_VOICELIVE_ENDPOINT: ENDPOINT,
      AZURE_VOICELIVE_MODEL: "gpt-4.1",
    });
    expect(cascaded.persona.defaultVoice).toBe("en-US-AvaMultilingualNeural");
    const native = loadConfig({
      DISCORD_TOKEN: TOKEN,
      AZURE_VOICELIVE_ENDPOINT: ENDPOINT,
      AZURE_VOICELIVE_MODEL: "azure-realtime",
    });
    expect(native.persona.defaultVoice).toBe("ava");
    expect(loadConfig({ DISCORD_TOKEN: TOKEN }).persona.defaultVoice).toBe("alloy");
  });

  it("puts every documented agent parameter on the URL, and never a credential", () => {
    const config = loadConfig({
      DISCORD_TOKEN: TOKEN,
      AZURE_VOICELIVE_ENDPOINT: ENDPOINT,
      ...AGENT,
      AZURE_VOICELIVE_AGENT_VERSION: "4",
      AZURE_VOICELIVE_AGENT_IDENTITY_CLIENT_ID: "0f3c2a1b-1111-2222-3333-444455556666",
      AZURE_VOICELIVE_FOUNDRY_RESOURCE_OVERRIDE: "other-res",
      AZURE_VOICELIVE_AGENT_CONVERSATION_ID: "conv_1",
    });
    const azure = config.azure;
    if (azure === undefined) throw new Error("no azure config");
    expect(sessionTarget(config)).toEqual({ model: undefined, apiVersion: "2026-07-15", agentMode: true });
    const url = new URL(buildVoiceLiveUrl(azure));
    expect(Object.fromEntries(url.searchParams)).toEqual({
      "api-version": "2026-07-15",
      "agent-name": "helper",
      "agent-project-name": "proj",
      "agent-version": "4",
      "conversation-id": "conv_1",
      "agent-authentication-identity-client-id": "0f3c2a1b-1111-2222-3333-444455556666",
      "foundry-resource-override": "other-res",
    });
    expect(url.searchParams.has("model")).toBe(false);
  });
});
