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

/** `npm start` running: its output so far and its end. */
export interface BotChild {
  readonly child: ChildProcess;
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
  /** SIGKILL if still running, then removes its files. */
  close(): Promise<void>;
}

/** The loopback Discord and voice server that bot processes log in to. */
export interface LoopbackWorld {
  readonly discord: LoopbackDiscord;
  readonly voice: LoopbackVoiceServer;
  /** A first guild with one member, alice. */
  readonly guild: SimGuildHandle;
  readonly userId: string;
  close(): Promise<void>;
}

export interface BotProcess extends BotChild, Omit<LoopbackWorld, "close"> {}

export async function startLoopbackWorld(
  options: { readonly recommendedShards?: number } = {},
): Promise<LoopbackWorld> {
  trustLoopbackCertificate();
  const voice = await LoopbackVoiceServer.start();
  const discord = await LoopbackDiscord.start({ voice, ...options });
  discord.registerCommands(commandPayload(COMMANDS));
  const guild = discord.addGuild();
  const userId = discord.addMember(guild.id, { username: "alice" });
  return {
    discord,
    voice,
    guild,
    userId,
    async close() {
      await discord.close();
      await voice.close();
    },
  };
}

/** Starts `npm start` (src/main.ts) against the world, configured by `env` over the defaults. */
export function spawnBot(world: LoopbackWorld, env: Readonly<Record<string, string>> = {}): BotChild {
  const dir = mkdtempSync(join(tmpdir(), "bot-process-"));
  const child = spawn(process.execPath, ["--disable-warning=ExperimentalWarning", "src/main.ts"], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      DISCORD_TOKEN: world.discord.token,
      DISCORD_API_URL: world.discord.apiUrl,
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
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    ready: (timeoutMs = 20_000) =>
      waitFor(() => stdout.includes("connected to Discord"), "the bot process to be ready", timeoutMs),
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function startBotProcess(
  env: Readonly<Record<string, string>> = {},
  options: { readonly recommendedShards?: number } = {},
): Promise<BotProcess> {
  const world = await startLoopbackWorld(options);
  const bot = spawnBot(world, env);
  return {
    ...bot,
    discord: world.discord,
    voice: world.voice,
    guild: world.guild,
    userId: world.userId,
    async close() {
      await bot.close();
      await world.close();
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
