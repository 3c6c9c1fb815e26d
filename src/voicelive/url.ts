import type { AzureVoiceLiveConfig } from "../config.ts";

export interface UrlOptions {
  /** Agent mode: continue an existing agent conversation. */
  readonly conversationId?: string;
}

/**
 * `wss://<host>/voice-live/realtime?api-version=…&model=…` (or agent parameters). Both Azure host
 * families work; `http://` maps to `ws://` for the local server. Credentials never go here.
 */
export function buildVoiceLiveUrl(
  azure: Pick<AzureVoiceLiveConfig, "endpoint" | "apiVersion" | "model" | "agent">,
  options: UrlOptions = {},
): string {
  const url = new URL(azure.endpoint);
  url.protocol = url.protocol === "http:" || url.protocol === "ws:" ? "ws:" : "wss:";
  url.pathname = "/voice-live/realtime";
  url.search = "";
  url.hash = "";
  url.username = "";
  url.password = "";
  url.searchParams.set("api-version", azure.apiVersion);
  if (azure.agent === undefined) {
    url.searchParams.set("model", azure.model);
  } else {
    url.searchParams.set("agent-name", azure.agent.name);
    url.searchParams.set("agent-project-name", azure.agent.project);
    // The optional agent parameters, spelled as @azure/ai-voicelive 1.1.0 sends them
    // (auth/credentialHandler.js) [Learn AgentSessionConfig].
    const optional: readonly (readonly [string, string | undefined])[] = [
      ["agent-version", azure.agent.version],
      ["conversation-id", options.conversationId ?? azure.agent.conversationId],
      ["agent-authentication-identity-client-id", azure.agent.identityClientId],
      ["foundry-resource-override", azure.agent.foundryResourceOverride],
    ];
    for (const [name, value] of optional) if (value !== undefined) url.searchParams.set(name, value);
  }
  return url.toString();
}
