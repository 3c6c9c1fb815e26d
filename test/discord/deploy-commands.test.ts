import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { commandCharacters, commandProblems } from "./command-limits.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

function deployCommands(args: string[], env: Record<string, string> = {}) {
  return spawnSync(
    process.execPath,
    ["--disable-warning=ExperimentalWarning", "src/deploy-commands.ts", ...args],
    {
      cwd: ROOT,
      env,
      encoding: "utf8",
      timeout: 20_000,
    },
  );
}

type Option = {
  name: string;
  description?: string;
  type: number;
  options?: Option[];
  required?: boolean;
  autocomplete?: boolean;
  choices?: unknown[];
};
type CommandJson = {
  name: string;
  default_member_permissions?: string | null;
  contexts?: number[];
  options?: Option[];
};

describe("deploy-commands --dry-run", () => {
  const run = deployCommands(["--dry-run"]);
  const payload: CommandJson[] = run.status === 0 ? JSON.parse(run.stdout) : [];

  it("prints only the JSON payload, with an empty environment", () => {
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(`${JSON.stringify(payload, null, 2)}\n`);
  });

  it("stays within every limit Discord documents", () => {
    expect(commandProblems(payload)).toEqual([]);
  });

  it("holds the commands and subcommands users are told about", () => {
    const shape = Object.fromEntries(
      payload.map((command) => [
        command.name,
        (command.options ?? []).filter((option) => option.type === 1).map((option) => option.name),
      ]),
    );
    expect(shape).toEqual({
      join: [],
      leave: [],
      persona: ["show", "set", "instructions", "listen", "tools", "reset"],
      status: [],
      captions: ["on", "off"],
    });
    for (const command of payload) expect(command.contexts).toEqual([0]);
  });

  it("hides the settings commands from members without Manage Server by default", () => {
    const permissions = Object.fromEntries(
      payload.map((command) => [command.name, command.default_member_permissions]),
    );
    expect(permissions.persona).toBe("32");
    expect(permissions.captions).toBe("32");
    expect(permissions.join ?? null).toBeNull();
  });

  it("offers autocomplete for the voice and choices for turn detection", () => {
    const set = payload
      .find((command) => command.name === "persona")
      ?.options?.find((option) => option.name === "set");
    const options = Object.fromEntries((set?.options ?? []).map((option) => [option.name, option]));
    expect(options.voice?.autocomplete).toBe(true);
    expect(options.turn_detection?.choices).toHaveLength(4);
  });
});

describe("the limit checks", () => {
  it("catch what Discord would reject", () => {
    const option = (name: string, extra: Partial<Option> = {}) => ({
      name,
      description: "d",
      type: 3,
      ...extra,
    });
    const bad = [
      {
        name: "Bad Name",
        description: "",
        options: [
          option("optional"),
          option("required", { required: true }),
          option("both", { autocomplete: true, choices: [{ name: "a", value: "a" }] }),
          { name: "sub", description: "d", type: 1 },
        ],
      },
      { name: "many", description: "d", options: Array.from({ length: 26 }, (_, i) => option(`o${i}`)) },
      {
        name: "long",
        description: "d".repeat(100),
        options: Array.from({ length: 25 }, (_, i) =>
          option(`o${i}`, {
            description: "x".repeat(100),
            choices: Array.from({ length: 25 }, (_, j) => ({
              name: `c${j}`.padEnd(90, "c"),
              value: `v${j}`,
            })),
          }),
        ),
      },
    ];
    const problems = commandProblems(bad).join("\n");
    expect(problems).toContain('name "Bad Name" does not match');
    expect(problems).toContain("description must be 1-100 characters");
    expect(problems).toContain("required option after an optional one");
    expect(problems).toContain("autocomplete cannot be combined with choices");
    expect(problems).toContain("subcommands cannot sit beside plain options");
    expect(problems).toContain("26 options (at most 25)");
    expect(problems).toMatch(/\/long: \d+ characters \(at most 4000\)/);
    expect(commandCharacters({ name: "ab", description: "cde", choices: [{ name: "f", value: 12 }] })).toBe(
      8,
    );
  });
});

describe("deploy-commands without configuration", () => {
  it("names the missing variables on stderr and exits 1 without a stack trace", () => {
    const run = deployCommands([]);
    expect(run.status).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain("DISCORD_TOKEN is required");
    expect(run.stderr).toContain("DISCORD_CLIENT_ID is required");
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });

  it("rejects an unknown argument", () => {
    const run = deployCommands(["--dryrun"]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("unknown argument --dryrun");
  });
});
