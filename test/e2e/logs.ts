import { Writable } from "node:stream";
import { createLogger, type Logger } from "../../src/log.ts";

export interface LogLine {
  readonly level: number;
  readonly msg?: string;
  readonly [key: string]: unknown;
}

/** A logger whose warn-and-above lines are kept, parsed, for assertions on what was logged. */
export function captureLogs(): { readonly logger: Logger; lines(): readonly LogLine[] } {
  const kept: LogLine[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line !== "" && kept.length < 5_000) kept.push(JSON.parse(line) as LogLine);
      }
      callback();
    },
  });
  return { logger: createLogger({ level: "warn", destination }), lines: () => kept };
}
