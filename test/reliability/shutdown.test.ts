import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";

/**
 * SIGTERM while `npm run simulate` is mid-speech: it exits by itself, cleanly, within 5 s. The bot's
 * own path (`npm start` in a live conversation) is in test/e2e/npm-start.test.ts.
 */

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const EXIT_WITHIN_MS = 5_000;

const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
});

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly afterSignalMs: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Starts `args`, waits until `ready` matches its output and then `delayMs` more, sends SIGTERM and
 * waits for the exit.
 */
function terminateWhen(
  args: readonly string[],
  ready: RegExp,
  options: { readonly env?: NodeJS.ProcessEnv; readonly delayMs?: number } = {},
): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--disable-warning=ExperimentalWarning", ...args], {
      cwd: ROOT,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(child);
    let stdout = "";
    let stderr = "";
    let signalledAt: number | undefined;
    let armed = false;
    const check = (): void => {
      if (armed || !ready.test(stdout + stderr)) return;
      armed = true;
      setTimeout(() => {
        signalledAt = performance.now();
        child.kill("SIGTERM");
      }, options.delayMs ?? 0);
    };
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
      check();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
      check();
    });
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      if (signalledAt === undefined) {
        reject(new Error(`exited (${code ?? signal}) before it was busy:\n${stdout}\n${stderr}`));
        return;
      }
      resolve({ code, signal, afterSignalMs: performance.now() - signalledAt, stdout, stderr });
    });
  });
}

describe("SIGTERM during activity", () => {
  it("npm run simulate stops mid-speech on SIGTERM with 143 (its documented code) within 5 s", async () => {
    const exit = await terminateWhen(
      ["src/sim/simulate.ts", "--input", "test/fixtures/speech-meeting-summary.wav", "--idle-ms", "500"],
      // Speech starts 0.35 s into the fixture; 1.5 s later the user is mid-sentence.
      /"msg":"conversation started"/,
      { env: { LOG_LEVEL: "info" }, delayMs: 1_500 },
    );
    console.info(`simulate: exit ${exit.code} ${Math.round(exit.afterSignalMs)} ms after SIGTERM`);
    expect(exit.signal, exit.stderr).toBeNull();
    expect(exit.code, exit.stderr).toBe(143);
    expect(exit.afterSignalMs).toBeLessThan(EXIT_WITHIN_MS);
    expect(exit.stderr).toMatch(/SIGTERM: stopping/);
  }, 60_000);
});
