/**
 * `npm run local-voicelive -- --port <n> [--api-key <key>] [--reply echo|tone] [--speed <x>]`
 * Prints exactly one line to stdout, `listening on http://127.0.0.1:<port>`, logs to stderr, and
 * serves until SIGINT or SIGTERM.
 */
import { parseArgs } from "node:util";
import { pino } from "pino";
import { createLogger, type LogLevel } from "../log.ts";
import type { ReplyMode } from "./reply.ts";
import { type LocalVoiceLiveOptions, startLocalVoiceLiveServer } from "./server.ts";

const USAGE = `Usage: npm run local-voicelive -- [--port <n>] [--api-key <key>] [--reply echo|tone] [--speed <x>]

  --port <n>        TCP port on 127.0.0.1 (default 0: the OS picks a free one)
  --api-key <key>   require this key in the api-key header (or set LOCAL_VOICELIVE_API_KEY,
                    which keeps the key out of the process list)
  --reply <mode>    echo: answer with the caller's own audio (default); tone: a 440 Hz tone
  --speed <x>       stream replies x times faster than real time (default 4)`;

class UsageError extends Error {}

function parseOptions(argv: readonly string[]): LocalVoiceLiveOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        port: { type: "string" },
        "api-key": { type: "string" },
        reply: { type: "string" },
        speed: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help === true) throw new UsageError("");
  const port = Number(values.port ?? "0");
  if (!/^\d+$/.test(String(values.port ?? "0")) || port > 65_535)
    throw new UsageError(`--port must be 0..65535`);
  const reply = (values.reply ?? "echo") as string;
  if (reply !== "echo" && reply !== "tone") throw new UsageError("--reply must be echo or tone");
  const speed = Number(values.speed ?? "4");
  if (!Number.isFinite(speed) || speed <= 0 || speed > 1000)
    throw new UsageError("--speed must be a number above 0 (at most 1000)");
  const apiKey = (values["api-key"] as string | undefined) ?? process.env.LOCAL_VOICELIVE_API_KEY;
  if (apiKey !== undefined && apiKey.trim() === "") throw new UsageError("--api-key must not be empty");
  return { port, reply: reply as ReplyMode, speed, ...(apiKey !== undefined ? { apiKey } : {}) };
}

async function main(): Promise<void> {
  let options: LocalVoiceLiveOptions;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    if (error.message === "") {
      process.stdout.write(`${USAGE}\n`);
      return;
    }
    process.stderr.write(`local-voicelive: ${error.message}\n\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  const logger = createLogger({
    level: (process.env.LOG_LEVEL as LogLevel | undefined) ?? "info",
    destination: pino.destination(2),
  });
  const server = await startLocalVoiceLiveServer({ ...options, logger });
  process.stdout.write(`listening on ${server.url}\n`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, "failed to close cleanly");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

await main();
