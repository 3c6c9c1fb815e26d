import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * The layering ARCHITECTURE.md describes, checked on the source: a module imports only from its own
 * floor or the floors below it, and no chain of imports comes back to where it started.
 */

const ROOT = normalize(join(dirname(fileURLToPath(import.meta.url)), "../.."));

/** Lowest first. A path names a folder (everything under it) or one file. */
const FLOORS: readonly (readonly string[])[] = [
  ["src/util", "src/audio", "src/log.ts"],
  ["src/voicelive", "src/config.ts", "src/persona.ts", "src/metrics"],
  ["src/bridge", "src/local", "src/store"],
  ["src/voice", "src/tools"],
  ["src/conversation"],
  ["src/discord"],
  ["commands", "src/sharding"],
  ["src/app.ts", "src/main.ts", "src/deploy-commands.ts", "src/sim"],
];

function floorOf(file: string): number {
  let floor = -1;
  let longest = -1;
  FLOORS.forEach((paths, index) => {
    for (const path of paths) {
      if ((file === path || file.startsWith(`${path}/`)) && path.length > longest) {
        floor = index;
        longest = path.length;
      }
    }
  });
  return floor;
}

function sourceFiles(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)));
}

/** Relative imports and re-exports of a file, as repository paths. */
function importsOf(file: string): string[] {
  const source = readFileSync(join(ROOT, file), "utf8");
  return [...source.matchAll(/^(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"/gms)].map((match) =>
    normalize(join(dirname(file), match[1]!)),
  );
}

const PRODUCT = [...sourceFiles("src"), ...sourceFiles("commands")];
const GRAPH = new Map(PRODUCT.map((file) => [file, importsOf(file)]));

describe("architecture", () => {
  it("places every product module on a floor", () => {
    expect(PRODUCT.filter((file) => floorOf(file) < 0)).toEqual([]);
  });

  it("has no import that runs up a floor", () => {
    const upward: string[] = [];
    for (const [file, imports] of GRAPH) {
      for (const target of imports) {
        if (floorOf(target) > floorOf(file)) upward.push(`${file} -> ${target}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it("has no import cycle", () => {
    const state = new Map<string, "open" | "done">();
    const stack: string[] = [];
    const cycles: string[] = [];
    const visit = (file: string): void => {
      state.set(file, "open");
      stack.push(file);
      for (const target of GRAPH.get(file) ?? []) {
        if (!GRAPH.has(target)) continue;
        if (state.get(target) === "open")
          cycles.push([...stack.slice(stack.indexOf(target)), target].join(" -> "));
        else if (state.get(target) === undefined) visit(target);
      }
      stack.pop();
      state.set(file, "done");
    };
    for (const file of GRAPH.keys()) if (state.get(file) === undefined) visit(file);
    expect(cycles).toEqual([]);
  });

  it("wires Voice Live events to Discord audio only in the bridge", () => {
    const wiring = PRODUCT.filter((file) => {
      const source = readFileSync(join(ROOT, file), "utf8");
      return /\.on\("response\.audio\.delta"/.test(source) && !file.startsWith("src/bridge/");
    });
    expect(wiring).toEqual([]);
  });

  it("keeps the benchmarks out of the tests", () => {
    const tests = sourceFiles("test");
    const intoBench = tests.filter((file) => importsOf(file).some((target) => target.startsWith("bench/")));
    expect(intoBench).toEqual([]);
  });
});
