import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { ConfigError, configSecrets, loadConfig } from "../../src/config.ts";

const SECRET_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB";
const SECRET_KEY = "0123456789abcdef0123456789abcdef";

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("configuration", () => {
  it("applies documented defaults and picks the local backend without an endpoint", () => {
    const config = loadConfig({ DISCORD_TOKEN: SECRET_TOKEN });
    expect(config.azure).toBeUndefined();
    expect(config.databasePath).toBe("./data/voicelive-discord.sqlite");
    expect(config.logLevel).toBe("info");
    expect(config.voiceLive.inputSampleRate).toBe(24000);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.discord)).toBe(true);
  });

  it("DATABASE_URL selects PostgreSQL; anything else is refused without printing its password", () => {
    expect(loadConfig({ DISCORD_TOKEN: SECRET_TOKEN }).databaseUrl).toBeUndefined();
    const url = "postgresql://bot:s3cret-db-password@db.internal:5432/voicelive";
    const config = loadConfig({ DISCORD_TOKEN: SECRET_TOKEN, DATABASE_URL: url });
    expect(config.databaseUrl).toBe(url);
    expect(configSecrets(config)).toContain("s3cret-db-password");
    const problems = problemsOf({
      DISCORD_TOKEN: SECRET_TOKEN,
      DATABASE_URL: "mysql://bot:s3cret-db-password@db/x",
    });
    expect(problems).toEqual([expect.stringMatching(/^DATABASE_URL must be a PostgreSQL URL/)]);
    expect(problems.join("\n")).not.toContain("s3cret-db-password");
  });

  it("DISCORD_API_URL defaults to Discord and takes a REST proxy, without a version or a trailing slash", () => {
    expect(loadConfig({ DISCORD_TOKEN: SECRET_TOKEN }).discord.apiUrl).toBe("https://discord.com/api");
    const proxied = loadConfig({
      DISCORD_TOKEN: SECRET_TOKEN,
      DISCORD_API_URL: "http://rest-proxy:8080/api/",
    });
    expect(proxied.discord.apiUrl).toBe("http://rest-proxy:8080/api");
    for (const [value, problem] of [
      ["discord.com/api", /^DISCORD_API_URL must be an http\(s\) URL/],
      ["ftp://proxy/api", /^DISCORD_API_URL must be an http\(s\) URL/],
      ["https://user:pw@proxy/api", /^DISCORD_API_URL must not carry credentials/],
      ["https://proxy/api?token=1", /^DISCORD_API_URL must not carry credentials, a query string/],
      ["https://proxy/api/v10", /^DISCORD_API_URL must not name an API version/],
    ] as const) {
      expect(problemsOf({ DISCORD_TOKEN: SECRET_TOKEN, DISCORD_API_URL: value })).toEqual([
        expect.stringMatching(problem),
      ]);
    }
  });

  it("SHARD_COUNT and SHARD_IDS: off by default, auto or a number, ids as a range or list below the count", () => {
    expect(loadConfig({ DISCORD_TOKEN: SECRET_TOKEN }).sharding).toBeUndefined();
    expect(loadConfig({ DISCORD_TOKEN: SECRET_TOKEN, SHARD_COUNT: "auto" }).sharding).toEqual({
      count: "auto",
      ids: undefined,
    });
    expect(loadConfig({ DISCORD_TOKEN: SECRET_TOKEN, SHARD_COUNT: "8", SHARD_IDS: "4-7" }).sharding).toEqual({
      count: 8,
      ids: [4, 5, 6, 7],
    });
    expect(
      loadConfig({ DISCORD_TOKEN: SECRET_TOKEN, SHARD_COUNT: "8", SHARD_IDS: "5, 1,1" }).sharding?.ids,
    ).toEqual([1, 5]);
    for (const [env, problem] of [
      [{ SHARD_COUNT: "0" }, /^SHARD_COUNT must be auto or a whole number/],
      [{ SHARD_COUNT: "two" }, /^SHARD_COUNT must be auto or a whole number/],
      [{ SHARD_IDS: "0-1" }, /^SHARD_IDS needs SHARD_COUNT/],
      [{ SHARD_COUNT: "auto", SHARD_IDS: "0" }, /^SHARD_IDS needs a numeric SHARD_COUNT/],
      [{ SHARD_COUNT: "4", SHARD_IDS: "2-5" }, /^SHARD_IDS must be a range like 0-3/],
      [{ SHARD_COUNT: "4", SHARD_IDS: "3-1" }, /^SHARD_IDS must be a range like 0-3/],
    ] as const) {
      expect(problemsOf({ DISCORD_TOKEN: SECRET_TOKEN, ...env })).toEqual([expect.stringMatching(problem)]);
    }
  });

  it("reads an Azure model-mode endpoint with defaults for model, api version and scope", () => {
    const config = loadConfig({
      DISCORD_TOKEN: SECRET_TOKEN,
      AZURE_VOICELIVE_ENDPOINT: "https://my-resource.services.ai.azure.com/",
    });
    expect(config.azure).toEqual({
      endpoint: "https://my-resource.services.ai.azure.com",
      apiKey: undefined,
      model: "gpt-realtime",
      // The newest GA version @azure/ai-voicelive 1.1.0 targets.
      apiVersion: "2026-07-15",
      agent: undefined,
      tokenScope: "https://ai.azure.com/.default",
    });
  });

  it("reads agent mode", () => {
    const config = loadConfig({
      DISCORD_TOKEN: SECRET_TOKEN,
      AZURE_VOICELIVE_ENDPOINT: "https://x.cognitiveservices.azure.com",
      AZURE_VOICELIVE_AGENT_NAME: "helper",
      AZURE_VOICELIVE_AGENT_PROJECT: "proj",
    });
    expect(config.azure?.agent).toEqual({ name: "helper", project: "proj", version: undefined });
  });

  it("lists every problem by variable name in one error", () => {
    const problems = problemsOf({
      AZURE_VOICELIVE_ENDPOINT: "not a url",
      AZURE_VOICELIVE_AGENT_NAME: "only-name",
      LOG_LEVEL: "loud",
      DISCORD_GUILD_ID: "abc",
      VOICELIVE_INPUT_SAMPLE_RATE: "22050",
      METRICS_PORT: "99999",
    });
    const text = problems.join("\n");
    for (const name of [
      "DISCORD_TOKEN",
      "AZURE_VOICELIVE_ENDPOINT",
      "AZURE_VOICELIVE_AGENT_PROJECT",
      "LOG_LEVEL",
      "DISCORD_GUILD_ID",
      "VOICELIVE_INPUT_SAMPLE_RATE",
      "METRICS_PORT",
    ]) {
      expect(text).toContain(name);
    }
  });

  it("never echoes a secret, even a malformed one", () => {
    const problems = problemsOf({
      DISCORD_TOKEN: `${SECRET_TOKEN} trailing`,
      AZURE_VOICELIVE_ENDPOINT: `https://user:${SECRET_KEY}@host.example`,
      AZURE_VOICELIVE_API_KEY: SECRET_KEY,
    });
    const text = problems.join("\n");
    expect(text).toContain("DISCORD_TOKEN");
    expect(text).toContain("AZURE_VOICELIVE_ENDPOINT");
    expect(text).not.toContain(SECRET_TOKEN);
    expect(text).not.toContain(SECRET_KEY);
  });

  it("npm start without DISCORD_TOKEN fails fast with one message naming it and no stack trace", () => {
    const started = performance.now();
    const result = spawnSync(process.execPath, ["--disable-warning=ExperimentalWarning", "src/main.ts"], {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" },
      encoding: "utf8",
      timeout: 20_000,
    });
    const elapsedMs = performance.now() - started;
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("DISCORD_TOKEN");
    expect(result.stderr).not.toMatch(/\n\s+at /);
    // Generous bound: the contract is 5 s; a loaded CI machine must not make this flaky.
    expect(elapsedMs).toBeLessThan(15_000);
  });
});
