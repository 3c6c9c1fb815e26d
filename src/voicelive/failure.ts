/**
 * Why a Voice Live connection ended or could not start, and what to do about it. Auth and
 * configuration problems are not retried (retrying cannot fix them and a storm of 401s helps
 * nobody); network, throttling and server faults are retried with backoff.
 */

export type ConnectionProblem =
  /** The HTTP upgrade was refused. */
  | { readonly kind: "http"; readonly status: number; readonly retryAfterMs: number | undefined }
  | { readonly kind: "close"; readonly code: number; readonly reason: string }
  | { readonly kind: "network"; readonly message: string; readonly code: string | undefined }
  | { readonly kind: "timeout"; readonly waitingFor: "connection" | "session.created" | "session.updated" }
  /** The service answered `session.update` with an error. */
  | { readonly kind: "rejected"; readonly message: string }
  /** The Entra credential could not produce a token. */
  | { readonly kind: "credential"; readonly name: string; readonly message: string };

export interface Verdict {
  /** `normal`: an orderly close; `retry`: try again after backoff; `fatal`: give up and say why. */
  readonly outcome: "normal" | "retry" | "fatal";
  readonly message: string;
  /** A floor for the next delay (HTTP Retry-After). */
  readonly retryAfterMs?: number;
}

const SHORT = 160;

function clip(text: string): string {
  return text.length > SHORT ? `${text.slice(0, SHORT)}…` : text;
}

const HTTP_FATAL: Readonly<Record<number, string>> = {
  400: "Voice Live refused the connection request (HTTP 400): check AZURE_VOICELIVE_API_VERSION, AZURE_VOICELIVE_MODEL and the agent settings",
  401: "Voice Live refused the credentials (HTTP 401): with an API key, check that AZURE_VOICELIVE_API_KEY belongs to this resource; with Entra ID, check the token scope (AZURE_TOKEN_SCOPE, usually https://ai.azure.com/.default)",
  403: "Voice Live denied access (HTTP 403): the identity is missing a role on the resource (assign Cognitive Services User), the token scope is wrong, or the resource's network rules block this host",
  404: "No Voice Live endpoint answered at this address (HTTP 404): check AZURE_VOICELIVE_ENDPOINT (https://<resource>.services.ai.azure.com) and AZURE_VOICELIVE_API_VERSION",
};

export function classifyProblem(problem: ConnectionProblem): Verdict {
  switch (problem.kind) {
    case "http": {
      const { status } = problem;
      const fatal = HTTP_FATAL[status];
      if (fatal !== undefined) return { outcome: "fatal", message: fatal };
      if (status === 429) {
        return {
          outcome: "retry",
          message: "Voice Live is throttling new connections (HTTP 429)",
          ...(problem.retryAfterMs === undefined ? {} : { retryAfterMs: problem.retryAfterMs }),
        };
      }
      if (status >= 400 && status < 500 && status !== 408) {
        return { outcome: "fatal", message: `Voice Live refused the connection (HTTP ${status})` };
      }
      return {
        outcome: "retry",
        message: `Voice Live answered the connection with HTTP ${status}`,
        ...(problem.retryAfterMs === undefined ? {} : { retryAfterMs: problem.retryAfterMs }),
      };
    }
    case "close": {
      const reason = problem.reason === "" ? "" : `: ${clip(problem.reason)}`;
      if (problem.code === 1000) return { outcome: "normal", message: `closed normally (1000${reason})` };
      if (problem.code === 1008) {
        return {
          outcome: "fatal",
          message: `Voice Live closed the session for a policy violation (1008${reason}); this usually means rejected credentials or a session configuration it refused repeatedly`,
        };
      }
      return { outcome: "retry", message: `connection closed (${problem.code}${reason})` };
    }
    case "network":
      return {
        outcome: "retry",
        message: `connection error: ${clip(problem.message)}${problem.code === undefined ? "" : ` (${problem.code})`}`,
      };
    case "timeout":
      return { outcome: "retry", message: `timed out waiting for ${problem.waitingFor}` };
    case "rejected":
      return {
        outcome: "fatal",
        message: `Voice Live rejected the session configuration: ${clip(problem.message)}`,
      };
    case "credential":
      // No credential source at all cannot fix itself; a failed token request (IMDS hiccup) can.
      return problem.name === "CredentialUnavailableError"
        ? {
            outcome: "fatal",
            message: `no Microsoft Entra ID credential is available (${clip(problem.message)}); sign in (az login), use a managed identity, or set AZURE_VOICELIVE_API_KEY`,
          }
        : {
            outcome: "retry",
            message: `could not get a Microsoft Entra ID token (${problem.name}: ${clip(problem.message)})`,
          };
  }
}

/** Parses an HTTP Retry-After header (seconds or a date) into ms. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  if (/^\d+$/.test(value.trim())) return Math.min(Number(value) * 1000, 300_000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.min(Math.max(0, date - now), 300_000);
}
