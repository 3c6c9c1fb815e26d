import type { TokenCredential } from "@azure/identity";
import type { AzureVoiceLiveConfig } from "../config.ts";
import { forgetSecret, registerSecret } from "../log.ts";

/**
 * Connection credentials. The API key travels only in the `api-key` header. Entra ID tokens come
 * from a TokenCredential (DefaultAzureCredential unless one is given), fetched for every connect so
 * a reconnect never presents an expired token. Every secret is registered with the log redactor.
 */
export interface ConnectionAuth {
  readonly kind: "api-key" | "entra";
  /** Headers for one connection attempt; rejects when no token can be had. */
  headers(): Promise<Record<string, string>>;
}

export function createAuth(
  azure: Pick<AzureVoiceLiveConfig, "apiKey" | "tokenScope"> & Partial<Pick<AzureVoiceLiveConfig, "agent">>,
  credential?: TokenCredential,
): ConnectionAuth {
  // Agent mode accepts Entra ID only [Learn how-to-voice-agent-integration]; config refuses a key
  // there, and the key is never sent even if a caller skipped that check.
  const apiKey = azure.agent === undefined ? azure.apiKey : undefined;
  if (apiKey !== undefined && credential === undefined) {
    registerSecret(apiKey);
    const headers = { "api-key": apiKey };
    return { kind: "api-key", headers: async () => ({ ...headers }) };
  }
  let resolved: TokenCredential | undefined = credential;
  return {
    kind: "entra",
    async headers() {
      resolved ??= await defaultCredential();
      const token = await resolved.getToken(azure.tokenScope);
      if (token === null || token.token === "") {
        throw Object.assign(new Error("the credential returned no token"), {
          name: "CredentialUnavailableError",
        });
      }
      rememberUntilExpiry(token.token, token.expiresOnTimestamp);
      return { authorization: `Bearer ${token.token}` };
    },
  };
}

/** Loaded on first use, so API-key deployments never pay for @azure/identity's import. */
async function defaultCredential(): Promise<TokenCredential> {
  const { DefaultAzureCredential } = await import("@azure/identity");
  return new DefaultAzureCredential();
}

/** Tokens are redacted while they are valid, then forgotten so the redactor's set stays small. */
function rememberUntilExpiry(token: string, expiresOnTimestamp: number): void {
  registerSecret(token);
  const ttl = Math.max(0, expiresOnTimestamp - Date.now()) + 60_000;
  setTimeout(() => forgetSecret(token), Math.min(ttl, 2 ** 31 - 1)).unref();
}
