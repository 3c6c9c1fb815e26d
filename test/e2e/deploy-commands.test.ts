import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { COMMANDS } from "../../commands/index.ts";
import { commandPayload } from "../../src/discord/registry.ts";
import { LoopbackDiscord } from "../../src/sim/discord/index.ts";
import { LoopbackVoiceServer } from "../../src/sim/voice-server.ts";

/** `npm run deploy-commands` registers through DISCORD_API_URL, as it would through a REST proxy. */

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

function deployCommands(
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--disable-warning=ExperimentalWarning", "src/deploy-commands.ts"],
      { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    child.once("error", reject);
    child.once("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

describe("deploy-commands through DISCORD_API_URL", () => {
  it("PUTs the guild's commands with the bot token and says what it registered", async () => {
    const voice = await LoopbackVoiceServer.start();
    const discord = await LoopbackDiscord.start({ voice });
    close = async () => {
      await discord.close();
      await voice.close();
    };
    const guild = discord.addGuild();
    const run = await deployCommands({
      DISCORD_TOKEN: discord.token,
      DISCORD_CLIENT_ID: discord.applicationId,
      DISCORD_GUILD_ID: guild.id,
      DISCORD_API_URL: discord.apiUrl,
    });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /^Registered 5 commands \(\/join, \/leave, \/persona, \/status, \/captions\) in guild \d+\.\n$/,
    );
    const put = discord.requests.filter((request) => request.method === "PUT");
    expect(put.map((request) => [request.route, request.status])).toEqual([
      [`/applications/${discord.applicationId}/guilds/${guild.id}/commands`, 200],
    ]);
    expect(put[0]!.body).toEqual(JSON.parse(JSON.stringify(commandPayload(COMMANDS))));
  }, 30_000);

  it("a rejected token is one line on stderr, exit 1, and the token is not printed", async () => {
    const voice = await LoopbackVoiceServer.start();
    const discord = await LoopbackDiscord.start({ voice });
    close = async () => {
      await discord.close();
      await voice.close();
    };
    const run = await deployCommands({
      DISCORD_TOKEN: "MTIz.wrong-token.value",
      DISCORD_CLIENT_ID: discord.applicationId,
      DISCORD_API_URL: discord.apiUrl,
    });
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(/401/);
    expect(run.stderr).not.toContain("wrong-token");
  }, 30_000);
});
