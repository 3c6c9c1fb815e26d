/**
 * `npm run deploy-commands` registers the slash commands: in DISCORD_GUILD_ID when set (instant,
 * for development), globally otherwise. `-- --dry-run` prints the exact payload as JSON on stdout
 * and needs no configuration and no network.
 */
import { REST, Routes } from "discord.js";
import { COMMANDS } from "../commands/index.ts";
import { ConfigError, loadConfig } from "./config.ts";
import { commandPayload } from "./discord/registry.ts";
import { scrubSecrets } from "./log.ts";

async function deploy(args: readonly string[]): Promise<number> {
  const unknown = args.filter((arg) => arg !== "--dry-run");
  if (unknown.length > 0) {
    process.stderr.write(
      `unknown argument ${unknown.join(" ")}; usage: npm run deploy-commands [-- --dry-run]\n`,
    );
    return 2;
  }
  const body = commandPayload(COMMANDS);
  if (args.includes("--dry-run")) {
    process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
    return 0;
  }
  const config = loadConfig(process.env, { discordToken: true, discordClientId: true });
  const { token, clientId, guildId } = config.discord;
  if (clientId === undefined) throw new ConfigError(["DISCORD_CLIENT_ID is required"]);
  const rest = new REST({ api: config.discord.apiUrl }).setToken(token);
  await rest.put(
    guildId === undefined
      ? Routes.applicationCommands(clientId)
      : Routes.applicationGuildCommands(clientId, guildId),
    { body },
  );
  process.stdout.write(
    `Registered ${body.length} commands (${body.map((command) => `/${command.name}`).join(", ")}) ${
      guildId === undefined ? "globally" : `in guild ${guildId}`
    }.\n`,
  );
  return 0;
}

deploy(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const message =
      error instanceof ConfigError ? error.message : `deploy-commands failed: ${scrubSecrets(String(error))}`;
    process.stderr.write(`${message}\n`);
    process.exitCode = 1;
  },
);
