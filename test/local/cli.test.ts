/** `npm run local-voicelive`: one line on stdout, a clean exit on SIGTERM, usage on bad flags. */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { expectRefusal, TestClient } from "./helpers.ts";

const CLI = new URL("../../src/local/cli.ts", import.meta.url).pathname;
let child: ChildProcess | undefined;

afterEach(() => {
  if (child?.exitCode === null) child.kill("SIGKILL");
  child = undefined;
});

function start(args: string[], env: Record<string, string> = {}): ChildProcess {
  child = spawn(process.execPath, ["--disable-warning=ExperimentalWarning", CLI, ...args], {
    env: { ...process.env, ...env, LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return child;
}

async function collect(stream: NodeJS.ReadableStream | null): Promise<string> {
  let text = "";
  for await (const chunk of stream ?? []) text += String(chunk);
  return text;
}

describe("local-voicelive CLI", () => {
  it("prints exactly one line with the URL, serves, and exits 0 on SIGTERM", async () => {
    const proc = start(["--port", "0", "--reply", "tone", "--speed", "8"], {
      LOCAL_VOICELIVE_API_KEY: "cli-secret-key-42",
    });
    const stderr = collect(proc.stderr);
    const lines: string[] = [];
    const reader = createInterface({ input: proc.stdout! });
    reader.on("line", (line) => lines.push(line));
    const [first] = (await once(reader, "line")) as [string];
    expect(first).toMatch(/^listening on http:\/\/127\.0\.0\.1:\d+$/);
    const url = first.replace("listening on ", "");

    expect((await expectRefusal(url)).status).toBe(401);
    const client = await TestClient.connect(url, { headers: { "api-key": "cli-secret-key-42" } });
    await client.waitFor("session.created");
    proc.kill("SIGTERM");
    const [code] = (await once(proc, "exit")) as [number | null];
    expect(code).toBe(0);
    expect((await client.closed).code).toBe(1001);
    expect(lines).toEqual([first]);
    expect(await stderr).not.toContain("cli-secret-key-42");
  });

  it("rejects bad flags with usage on stderr and exit code 2", async () => {
    const proc = start(["--reply", "shout"]);
    const exited = once(proc, "exit");
    const [stdout, stderr] = await Promise.all([collect(proc.stdout), collect(proc.stderr)]);
    const [code] = (await exited) as [number | null];
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toMatch(/--reply must be echo or tone/);
    expect(stderr).toMatch(/^Usage: /m);
  });
});
