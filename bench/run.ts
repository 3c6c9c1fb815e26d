/**
 * `npm run bench [-- section ...]`: runs the named benchmark sections (all by default), merges
 * their figures into bench/results.json (sections not run keep their last figures), prints a
 * table and checks each section's targets. Exit code 1 when a target is missed.
 *
 * To add a section: write bench/<name>.ts exporting `section: BenchSection` and list it below.
 */
import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import type { BenchSection, Figure, Figures, Target } from "./section.ts";

const SECTIONS: Readonly<Record<string, () => Promise<{ section: BenchSection }>>> = {
  audio: () => import("./audio.ts"),
  bridge: () => import("./bridge.ts"),
  idle: () => import("./idle.ts"),
  capacity: () => import("./capacity.ts"),
  dave: () => import("./dave.ts"),
  turns: () => import("./turns.ts"),
};

const RESULTS = new URL("./results.json", import.meta.url);

type Results = Record<string, Figures>;

function readResults(): Results {
  try {
    return JSON.parse(readFileSync(RESULTS, "utf8")) as Results;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new Error(`bench/results.json is unreadable (${String(error)}); fix or delete it`);
  }
}

/** Flattens nested figures into dotted names for the table. */
function flatten(figures: Figures, prefix = ""): [string, Figure][] {
  return Object.entries(figures).flatMap(([key, value]): [string, Figure][] =>
    value !== null && typeof value === "object" && !Array.isArray(value)
      ? flatten(value as Figures, `${prefix}${key}.`)
      : [[`${prefix}${key}`, value]],
  );
}

function check(target: Target, value: Figure | undefined): string {
  const bound = [
    target.atLeast === undefined ? "" : `>= ${target.atLeast}`,
    target.atMost === undefined ? "" : `<= ${target.atMost}`,
  ]
    .filter(Boolean)
    .join(" and ");
  const met =
    typeof value === "number" &&
    (target.atLeast === undefined || value >= target.atLeast) &&
    (target.atMost === undefined || value <= target.atMost);
  return `${met ? "ok" : "MISSED"} (${bound})`;
}

/** Longer values (per-run detail) stay in results.json only; the table would be unreadable. */
const MAX_PRINTED_VALUE = 60;

function printTable(name: string, section: BenchSection, figures: Figures): boolean {
  const targets = new Map((section.targets ?? []).map((target) => [target.figure, target]));
  const rows = flatten(figures).map(([key, value]) => {
    const target = targets.get(key);
    const printed = JSON.stringify(value);
    return [
      key,
      printed.length > MAX_PRINTED_VALUE ? "(in bench/results.json)" : printed,
      target === undefined ? "" : check(target, value),
    ] as const;
  });
  const missing = [...targets.keys()].filter((key) => !rows.some(([row]) => row === key));
  const width = Math.max(...rows.map(([key]) => key.length));
  const valueWidth = Math.max(...rows.map(([, value]) => value.length));
  console.log(`\n${name}: ${section.description}`);
  for (const [key, value, verdict] of rows) {
    console.log(`  ${key.padEnd(width)}  ${value.padStart(valueWidth)}  ${verdict}`);
  }
  for (const key of missing) console.log(`  ${key.padEnd(width)}  MISSED (figure not produced)`);
  return missing.length === 0 && rows.every(([, , verdict]) => !verdict.startsWith("MISSED"));
}

async function main(): Promise<void> {
  const requested = process.argv.slice(2);
  const unknown = requested.filter((name) => !(name in SECTIONS));
  if (unknown.length > 0) {
    console.error(
      `Unknown bench section(s): ${unknown.join(", ")}. Known: ${Object.keys(SECTIONS).join(", ")}`,
    );
    process.exitCode = 2;
    return;
  }
  const names = requested.length > 0 ? requested : Object.keys(SECTIONS);
  const results = readResults();
  let allMet = true;
  for (const name of names) {
    const { section } = await SECTIONS[name]!();
    const started = performance.now();
    const figures = await section.run();
    const meta = {
      measuredAt: new Date().toISOString(),
      durationS: Math.round(performance.now() - started) / 1000,
      node: process.version,
      cpu: os.cpus()[0]?.model ?? "unknown",
      cores: os.availableParallelism(),
    };
    results[name] = { ...figures, meta };
    allMet = printTable(name, section, figures) && allMet;
    writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  }
  console.log(`\nWrote ${names.join(", ")} to bench/results.json`);
  if (!allMet) process.exitCode = 1;
}

await main();
