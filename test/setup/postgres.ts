import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";

/**
 * vitest globalSetup: the store and sharding tests run against a real PostgreSQL. With
 * TEST_DATABASE_URL set they use that server; otherwise this starts a throwaway cluster (initdb +
 * pg_ctl on a temp dir and a free port, as a non-root user when run as root, since postgres
 * refuses root) and stops it when the run ends. Without PostgreSQL the run fails here, loudly,
 * rather than skipping what it cannot test.
 */

declare module "vitest" {
  export interface ProvidedContext {
    /** A superuser URL of the test server; each test creates its own database on it. */
    postgresUrl: string;
  }
}

const USER = "voicelive";
const PASSWORD = "test-only-password-7c1f";

function postgresBin(): string | undefined {
  const onPath = (process.env.PATH ?? "").split(":").find((dir) => existsSync(join(dir, "initdb")));
  if (onPath !== undefined && existsSync(join(onPath, "pg_ctl"))) return onPath;
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  return versions.map((version) => join(root, version, "bin")).find((dir) => existsSync(join(dir, "initdb")));
}

/** postgres will not run as root: run its tools as the `postgres` account (or `nobody`). */
function serverUser(): { name: string; uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ["postgres", "nobody"]) {
    try {
      const uid = Number(execFileSync("id", ["-u", name], { encoding: "utf8" }).trim());
      const gid = Number(execFileSync("id", ["-g", name], { encoding: "utf8" }).trim());
      return { name, uid, gid };
    } catch {
      // try the next account
    }
  }
  throw new Error("running as root, and neither a postgres nor a nobody account exists to run PostgreSQL");
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0));
    });
  });
}

export default async function setup(project: TestProject): Promise<(() => void) | undefined> {
  const given = process.env.TEST_DATABASE_URL;
  if (given !== undefined && given !== "") {
    project.provide("postgresUrl", given);
    return undefined;
  }
  const bin = postgresBin();
  if (bin === undefined) {
    throw new Error(
      "The tests need PostgreSQL and found none: install it (Debian/Ubuntu: apt-get install postgresql; .ci/run does this) so initdb is on PATH or in /usr/lib/postgresql/<version>/bin, or set TEST_DATABASE_URL=postgres://user:password@host:port/db to use a running server.",
    );
  }
  const user = serverUser();
  const dir = mkdtempSync(join(tmpdir(), "voicelive-pg-"));
  const data = join(dir, "data");
  const passwordFile = join(dir, "password");
  writeFileSync(passwordFile, `${PASSWORD}\n`);
  if (user !== undefined) {
    chownSync(dir, user.uid, user.gid);
    chownSync(passwordFile, user.uid, user.gid);
  }
  const run = (tool: string, args: string[]): void => {
    const command =
      user === undefined
        ? [join(bin, tool), ...args]
        : ["runuser", "-u", user.name, "--", join(bin, tool), ...args];
    try {
      execFileSync(command[0]!, command.slice(1), { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
    } catch (error) {
      const { stderr, stdout } = error as { stderr?: string; stdout?: string };
      throw new Error(
        `${tool} failed while starting the test PostgreSQL: ${stderr || stdout || String(error)}`,
      );
    }
  };
  const port = await freePort();
  run("initdb", [
    "-D",
    data,
    "-U",
    USER,
    "--auth=scram-sha-256",
    `--pwfile=${passwordFile}`,
    "-E",
    "UTF8",
    "--no-sync",
  ]);
  // fsync off: the tests kill bot processes, never the server, so its durability is not under test.
  const serverOptions = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300`;
  run("pg_ctl", ["-D", data, "-l", join(dir, "server.log"), "-w", "-t", "60", "-o", serverOptions, "start"]);
  project.provide("postgresUrl", `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`);
  return () => {
    try {
      run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}
