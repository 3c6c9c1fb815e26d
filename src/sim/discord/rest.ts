import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../../log.ts";

/*
 * The HTTP half of the loopback Discord: REST v10 under /api/v10 with Discord's error shape
 * ({ code, message }), bot-token authentication on the routes that need it, scripted 429/5xx
 * answers, and a record of every request the bot made.
 */

export interface RestRequest {
  readonly method: string;
  /** The path after /api/v10, percent-decoded per segment (`%40original` arrives as `@original`). */
  readonly route: string;
  readonly body: Record<string, unknown>;
  readonly query: URLSearchParams;
}

export interface RestAnswer {
  readonly status: number;
  readonly body?: unknown;
}

export interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  /** false for the interaction and webhook routes, which the interaction token authorizes. */
  readonly auth: boolean;
  handle(params: readonly string[], request: RestRequest): RestAnswer;
}

export interface ScriptedFailure {
  /** Matched against "METHOD /route", e.g. /^POST \/channels\//. */
  readonly match: RegExp;
  readonly status: number;
  /** With 429: the retry-after the answer carries (default 1000 ms). */
  readonly retryAfterMs?: number;
  /** How many matching requests fail (default 1). */
  readonly count?: number;
}

export interface RecordedRequest {
  readonly method: string;
  readonly route: string;
  readonly body: Record<string, unknown>;
  readonly status: number;
  readonly at: number;
}

const MAX_BODY_BYTES = 1024 * 1024;

export function apiError(status: number, code: number, message: string): RestAnswer {
  return { status, body: { code, message } };
}

export class RestApi {
  readonly requests: RecordedRequest[] = [];
  readonly #routes: readonly Route[];
  readonly #token: string;
  readonly #logger: Logger;
  readonly #failures: { failure: ScriptedFailure; left: number }[] = [];

  constructor(routes: readonly Route[], token: string, logger: Logger) {
    this.#routes = routes;
    this.#token = token;
    this.#logger = logger;
  }

  failNext(failure: ScriptedFailure): void {
    this.#failures.push({ failure, left: failure.count ?? 1 });
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on("end", () => {
      const answer = this.#answer(req, size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks));
      res.writeHead(answer.status, answer.headers);
      res.end(answer.body === undefined ? undefined : JSON.stringify(answer.body));
    });
    req.on("error", (error) => this.#logger.warn({ err: error }, "REST request error"));
  }

  #answer(
    req: IncomingMessage,
    raw: Buffer | undefined,
  ): { status: number; body?: unknown; headers: Record<string, string> } {
    const json = { "content-type": "application/json" };
    const url = new URL(req.url ?? "/", "http://loopback");
    const method = req.method ?? "GET";
    const prefix = "/api/v10";
    if (!url.pathname.startsWith(`${prefix}/`)) {
      return { status: 404, body: { code: 0, message: "404: Not Found" }, headers: json };
    }
    const route = url.pathname
      .slice(prefix.length)
      .split("/")
      .map((segment) => decodeURIComponent(segment))
      .join("/");
    const body = raw === undefined ? undefined : parseBody(raw, req.headers["content-type"]);
    if (body === undefined) {
      return {
        status: 400,
        body: { code: 50109, message: "The request body contains invalid JSON." },
        headers: json,
      };
    }
    const reply = (answer: RestAnswer, headers: Record<string, string> = {}) => {
      this.requests.push({ method, route, body, status: answer.status, at: Date.now() });
      return {
        status: answer.status,
        ...(answer.body === undefined ? {} : { body: answer.body }),
        headers: answer.body === undefined ? headers : { ...json, ...headers },
      };
    };
    const scripted = this.#scriptedFailure(`${method} ${route}`);
    if (scripted !== undefined) {
      if (scripted.status !== 429)
        return reply(apiError(scripted.status, 0, `${scripted.status}: scripted failure`));
      const seconds = (scripted.retryAfterMs ?? 1000) / 1000;
      return reply(
        {
          status: 429,
          body: { message: "You are being rate limited.", retry_after: seconds, global: false },
        },
        { "retry-after": String(Math.ceil(seconds)), "x-ratelimit-scope": "user" },
      );
    }
    for (const candidate of this.#routes) {
      if (candidate.method !== method) continue;
      const match = candidate.pattern.exec(route);
      if (match === null) continue;
      if (candidate.auth && req.headers.authorization !== `Bot ${this.#token}`) {
        return reply(apiError(401, 0, "401: Unauthorized"));
      }
      return reply(candidate.handle(match.slice(1), { method, route, body, query: url.searchParams }));
    }
    return reply(apiError(404, 0, "404: Not Found"));
  }

  #scriptedFailure(key: string): ScriptedFailure | undefined {
    const index = this.#failures.findIndex((entry) => entry.failure.match.test(key));
    if (index < 0) return undefined;
    const entry = this.#failures[index]!;
    entry.left--;
    if (entry.left <= 0) this.#failures.splice(index, 1);
    return entry.failure;
  }
}

/** JSON, or multipart/form-data with the JSON in payload_json (what discord.js sends with files). */
function parseBody(raw: Buffer, contentType: string | undefined): Record<string, unknown> | undefined {
  if (raw.length === 0) return {};
  let text = raw.toString("utf8");
  if (contentType?.startsWith("multipart/form-data") === true) {
    const match = /name="payload_json"[^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n([\s\S]*?)\r\n--/.exec(text);
    if (match === null) return {};
    text = match[1]!;
  }
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
