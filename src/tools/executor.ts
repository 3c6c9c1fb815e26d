import type { ToolCall, ToolResult, ToolRunner } from "../bridge/ports.ts";
import type { Logger } from "../log.ts";
import type { ToolName } from "../persona.ts";
import type { FunctionTool } from "../voicelive/protocol.ts";
import type { Tool, ToolEnvironment } from "./tool.ts";

/**
 * Runs the model's function calls for one guild: only enabled tools, only when everyone who spoke
 * in the turn holds the tool's permission, within a time limit, with a bounded output. Nothing it
 * returns is an exception: a refusal, a timeout or a failure is text the model can say out loud.
 */

const DEFAULT_TIMEOUT_MS = 5_000;
const MAX_OUTPUT_CHARS = 2_000;

export interface ToolExecutorOptions {
  readonly tools: readonly Tool[];
  readonly env: ToolEnvironment;
  /** The tools this guild has on now (the persona's setting, read at each call). */
  readonly enabled: () => Promise<readonly ToolName[]>;
  /** Whether a member holds a permission in the guild; false when unknown. */
  readonly hasPermission: (userId: string, flag: bigint) => Promise<boolean>;
  /** A member's display name, for refusals the model reads out. */
  readonly displayName: (userId: string) => string | undefined;
  readonly timeoutMs?: number;
  readonly logger: Logger;
}

export class ToolExecutor implements ToolRunner {
  readonly #options: ToolExecutorOptions;
  readonly #byName: ReadonlyMap<string, Tool>;

  constructor(options: ToolExecutorOptions) {
    this.#options = options;
    this.#byName = new Map(options.tools.map((tool) => [tool.name, tool]));
  }

  definitions(enabled: readonly string[]): readonly FunctionTool[] {
    return this.#options.tools
      .filter((tool) => enabled.includes(tool.name))
      .map((tool) => ({
        type: "function",
        name: tool.name,
        description: tool.description,
        parameters: tool.parameters,
      }));
  }

  async run(call: ToolCall): Promise<ToolResult> {
    const log = this.#options.logger.child({
      tool: call.name.slice(0, 40),
      callId: call.callId.slice(0, 40),
    });
    const tool = this.#byName.get(call.name);
    if (tool === undefined || !(await this.#enabled(call.name))) {
      return refusal(`The tool ${JSON.stringify(call.name.slice(0, 40))} is not available in this server.`);
    }
    const args = parseArguments(call.arguments);
    if (args === undefined) return refusal("The arguments were not a JSON object; nothing was done.");
    const denied = await this.#denied(tool, call.speakerIds);
    if (denied !== undefined) {
      log.info({ speakers: call.speakerIds.length }, "tool call refused: permission");
      return refusal(denied);
    }
    try {
      const output = await withTimeout(
        tool.run(args, this.#options.env, call.speakerIds),
        this.#options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      );
      return { output: JSON.stringify({ result: bounded(output) }), allowed: true };
    } catch (error) {
      const timedOut = error instanceof ToolTimeoutError;
      log.warn({ err: error }, timedOut ? "tool call timed out" : "tool call failed");
      return {
        output: JSON.stringify({
          error: timedOut ? "timeout" : "failed",
          message: timedOut
            ? "It took too long and was given up. Apologise and offer to try again later."
            : `It did not work (${bounded(String(error instanceof Error ? error.message : error), 200)}). Apologise briefly.`,
        }),
        allowed: true,
      };
    }
  }

  async #enabled(name: string): Promise<boolean> {
    try {
      return (await this.#options.enabled()).some((enabled) => enabled === name);
    } catch {
      return false;
    }
  }

  /** Why the call may not run, or undefined: everyone who asked holds the tool's permission. */
  async #denied(tool: Tool, speakerIds: readonly string[]): Promise<string | undefined> {
    const permission = tool.permission;
    if (permission === undefined) return undefined;
    if (speakerIds.length === 0) {
      return `Only members with the ${permission.label} permission may ask for this, and I could not tell who asked. Say so and change nothing.`;
    }
    const checks = await Promise.all(
      speakerIds.map((userId) => this.#options.hasPermission(userId, permission.flag).catch(() => false)),
    );
    const lacking = speakerIds.filter((_, i) => !checks[i]);
    if (lacking.length === 0) return undefined;
    const names = lacking.map((userId) => this.#options.displayName(userId) ?? "someone").join(", ");
    return `Only members with the ${permission.label} permission may ask for this, and ${names} may not. Say so and change nothing.`;
  }
}

class ToolTimeoutError extends Error {
  override readonly name = "ToolTimeoutError";
}

function refusal(reason: string): ToolResult {
  return { output: JSON.stringify({ error: "refused", reason }), allowed: false };
}

function parseArguments(text: string): Readonly<Record<string, unknown>> | undefined {
  try {
    const value: unknown = JSON.parse(text === "" ? "{}" : text);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function bounded(text: string, limit = MAX_OUTPUT_CHARS): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}

async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ToolTimeoutError(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
