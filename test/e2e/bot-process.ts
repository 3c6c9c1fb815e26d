import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { COMMANDS } from "../../commands/index.ts";
import { commandPayload } from "../../src/discord/registry.ts";
import { LoopbackDiscord, type SimGuildHandle } from "../../src/sim/discord/index.ts";
import { trustLoopbackCertificate } from "../../src/sim/tls.ts";
import { LoopbackVoiceServer } from "../../src/sim/voice-server.ts";
import { waitFor } from "../sim/voice-test-kit.ts";

/**
 * `npm start` as an operator runs it (src/main.ts in its own process, configured only by its
 * environment), pointed by DISCORD_API_URL at a loopback Discord in the test process. The voice
 * server's certificate reaches the child through NODE_EXTRA_CA_CERTS, as a proxy's CA would.
 */

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const LOOPBACK_CA = fileURLToPath(new URL("../../src/sim/tls/cert.pem", import.meta.url));

export interface BotProcess {
  readonly child: ChildProcess;
  readonly discord: LoopbackDiscord;
  readonly voice: LoopbackVoiceServer;
  readonly guild: SimGuildHandle;
  readonly userId: string;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or signal) once the process is gone. */
  readonly exited: Promise<{
    readonly code: number | null;
    readonly signal: NodeJS.Signals | null;
    readonly at: number;
  }>;
  /** Resolves once discord.js is ready in the child. */
  ready(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startBotProcess(
  env: Readonly<Record<string, string>> = {},
  options: { readonly recommendedShards?: number } = {},
): Promise<BotProcess> {
  trustLoopbackCertificate();
  const voice = await LoopbackVoiceServer.start();
  const discord = await LoopbackDiscord.start({ voice, ...options });
  discord.registerCommands(commandPayload(COMMANDS));
  const guild = discord.addGuild();
  const userId = discord.addMember(guild.id, { username: "alice" });
  const dir = mkdtempSync(join(tmpdir(), "bot-process-"));
  const child = spawn(process.execPath, ["--disable-warning=ExperimentalWarning", "src/main.ts"], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      DISCORD_TOKEN: discord.token,
      DISCORD_API_URL: discord.apiUrl,
      DATABASE_PATH: join(dir, "bot.sqlite"),
      LOG_LEVEL: "info",
      NODE_EXTRA_CA_CERTS: LOOPBACK_CA,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal, at: performance.now() })),
  );
  return {
    child,
    discord,
    voice,
    guild,
    userId,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    ready: (timeoutMs = 20_000) =>
      waitFor(() => stdout.includes("connected to Discord"), "the bot process to be ready", timeoutMs),
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
      await discord.close();
      await voice.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The `msg` of every JSON log line. */
export function logMessages(output: string): string[] {
  return output
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => (JSON.parse(line) as { msg?: string }).msg ?? "");
}
