import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const FAKE_TOKEN = "MTAwMDAwMDAwMDAwMDAwMDAw.fake.token-for-tests-only";

function start(env: Record<string, string>) {
  return spawnSync(process.execPath, ["--disable-warning=ExperimentalWarning", "src/main.ts"], {
    cwd: ROOT,
    env,
    encoding: "utf8",
    timeout: 20_000,
  });
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "main-test-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("npm start refuses a broken setup", () => {
  it("names DISCORD_TOKEN when it is missing, without a stack trace", () => {
    const run = start({});
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("DISCORD_TOKEN is required");
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.stdout).toBe("");
  });

  it("names DATABASE_PATH when the database cannot be opened, and never prints the token", () => {
    const file = join(dir, "a-file");
    writeFileSync(file, "not a directory");
    const run = start({
      DISCORD_TOKEN: FAKE_TOKEN,
      DATABASE_PATH: join(file, "bot.sqlite"),
      LOG_LEVEL: "silent",
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("(DATABASE_PATH)");
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.stdout + run.stderr).not.toContain(FAKE_TOKEN);
  });

  it("names DATABASE_URL in one line when PostgreSQL cannot be reached, and never prints its password", () => {
    const run = start({
      DISCORD_TOKEN: FAKE_TOKEN,
      DATABASE_URL: "postgres://bot:db-password-never-shown@127.0.0.1:1/voicelive",
      LOG_LEVEL: "info",
    });
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(
        /^cannot open the database at postgres:\/\/bot:\[redacted\]@127\.0\.0\.1:1\/voicelive \(DATABASE_URL\): /,
      ),
    ]);
    expect(run.stdout + run.stderr).not.toContain("db-password-never-shown");
  });

  it("names the default persona settings when they are invalid", () => {
    const run = start({
      DISCORD_TOKEN: FAKE_TOKEN,
      PERSONA_DEFAULT_VOICE: "robot",
      DATABASE_PATH: join(dir, "bot.sqlite"),
      LOG_LEVEL: "silent",
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/PERSONA_DEFAULT_VOICE: "robot" is neither/);
  });
});
