import { Writable } from "node:stream";
import { type DestinationStream, type Logger, pino } from "pino";
import pretty from "pino-pretty";

export type { Logger } from "pino";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

const REDACTED = "[redacted]";

/**
 * Every secret value the process knows of (the configured Discord token and Voice Live key, Entra
 * tokens as they are fetched). Each log line is scrubbed of them after serialisation, so a secret
 * is caught wherever it hides: in a nested object, an error message, a URL or a stack trace.
 */
const knownSecrets = new Set<string>();

export function registerSecret(secret: string | undefined): void {
  if (secret !== undefined && secret.length >= 8) knownSecrets.add(secret);
}

export function forgetSecret(secret: string): void {
  knownSecrets.delete(secret);
}

const SECRET_PATTERNS: readonly RegExp[] = [
  /(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi,
  /((?:api[-_]?key|access[-_]?token|authorization|token)["']?\s*[:=]\s*["']?)(?!\[redacted\])[^"'&\s,}]{8,}/gi,
  /\b(mfa\.[\w-]{20,}|[MNO][\w-]{23,25}\.[\w-]{6}\.[\w-]{27,38})\b/g,
  // The password of a URL such as postgres://user:password@host (DATABASE_URL).
  /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@"']*:)(?!\[redacted\])[^\s@/"']+(?=@)/gi,
];

/** Removes known secrets and anything shaped like a credential from a string. */
export function scrubSecrets(text: string): string {
  let out = text;
  for (const secret of knownSecrets) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  for (const pattern of SECRET_PATTERNS) {
    out = out.replace(pattern, (_match, prefix: string) =>
      prefix !== undefined && /[:=\s]$/i.test(prefix) ? `${prefix}${REDACTED}` : REDACTED,
    );
  }
  return out;
}

const REDACT_PATHS = [
  "apiKey",
  "token",
  "accessToken",
  "password",
  "secret",
  "*.apiKey",
  "*.token",
  "*.accessToken",
  "*.password",
  "*.secret",
  "headers.authorization",
  "headers.Authorization",
  'headers["api-key"]',
  "*.headers.authorization",
  "*.headers.Authorization",
  '*.headers["api-key"]',
  'req.headers["api-key"]',
  "req.headers.authorization",
];

export interface LoggerOptions {
  readonly level?: LogLevel;
  /** Where lines go; defaults to stdout, pretty-printed when stdout is a terminal. */
  readonly destination?: DestinationStream;
  readonly pretty?: boolean;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const usePretty = options.pretty ?? (options.destination === undefined && process.stdout.isTTY === true);
  const destination: DestinationStream =
    options.destination ??
    (usePretty
      ? pretty({ colorize: true, translateTime: "SYS:HH:MM:ss.l", sync: true })
      : pino.destination(1));
  return pino(
    {
      level: options.level ?? "info",
      base: undefined,
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      hooks: { streamWrite: scrubSecrets },
      serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
    },
    destination,
  );
}

/** A logger that keeps its lines in memory, for tests that scan output for secrets. */
export function createMemoryLogger(level: LogLevel = "trace"): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      callback();
    },
  });
  return { logger: createLogger({ level, destination }), lines };
}

/** The process-wide logger until main.ts configures it; quiet under vitest unless LOG_LEVEL says otherwise. */
export let log: Logger = createLogger({
  level: (process.env.LOG_LEVEL as LogLevel | undefined) ?? (process.env.VITEST ? "silent" : "info"),
});

export function setRootLogger(logger: Logger): void {
  log = logger;
}
