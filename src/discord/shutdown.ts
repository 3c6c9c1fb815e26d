import type { Logger } from "../log.ts";
import type { Schedule } from "./timers.ts";

export interface ShutdownStep {
  readonly name: string;
  readonly run: () => Promise<void> | void;
}

export interface ShutdownOptions {
  readonly steps: readonly ShutdownStep[];
  readonly logger: Logger;
  readonly exit: (code: number) => void;
  readonly schedule: Schedule;
  /** Exit anyway after this long, whatever is still pending. */
  readonly deadlineMs: number;
}

/**
 * Returns the function to call on SIGINT/SIGTERM: runs the steps in order (a failing step is
 * logged and the next one still runs), then exits; a timer forces the exit at the deadline so a
 * hung step cannot keep the process alive. A second signal exits at once. The exit code is the
 * one given, or 1 when a step failed.
 */
export function createShutdown(
  options: ShutdownOptions,
): (reason: string, exitCode?: number) => Promise<void> {
  const { logger, exit } = options;
  let started = false;
  return async (reason, exitCode = 0) => {
    if (started) {
      logger.warn({ reason }, "second shutdown request; exiting now");
      exit(1);
      return;
    }
    started = true;
    logger.info({ reason }, "shutting down");
    const cancelDeadline = options.schedule(() => {
      logger.error({ deadlineMs: options.deadlineMs }, "shutdown took too long; exiting anyway");
      exit(1);
    }, options.deadlineMs);
    let failed = false;
    for (const step of options.steps) {
      try {
        await step.run();
      } catch (error) {
        failed = true;
        logger.error({ err: error, step: step.name }, "shutdown step failed");
      }
    }
    cancelDeadline();
    logger.info("shut down");
    exit(failed ? 1 : exitCode);
  };
}
