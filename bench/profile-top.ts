/**
 * Prints the functions with the most self time in a V8 CPU profile (a `.cpuprofile` file written
 * by `node --cpu-prof`, e.g. by `BENCH_CPU_PROF=<dir> npm run bench -- capacity`), and the share
 * of time by source file.
 *   node bench/profile-top.ts <file.cpuprofile> [rows]
 */
import { readFileSync } from "node:fs";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

function main(): void {
  const [file, rowsArg] = process.argv.slice(2);
  if (file === undefined) {
    console.error("usage: node bench/profile-top.ts <file.cpuprofile> [rows]");
    process.exitCode = 2;
    return;
  }
  const rows = Number(rowsArg ?? 25);
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
    totalUs += delta;
  });
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (frame === undefined) continue;
    const where = shortUrl(frame.url);
    const name = `${frame.functionName || "(anonymous)"}  ${where}:${frame.lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    byFile.set(where || frame.functionName, (byFile.get(where || frame.functionName) ?? 0) + us);
  }
  const print = (title: string, entries: Map<string, number>): void => {
    console.log(`\n${title} (of ${(totalUs / 1e6).toFixed(1)} s sampled)`);
    for (const [name, us] of [...entries].sort((a, b) => b[1] - a[1]).slice(0, rows)) {
      console.log(`  ${((us / totalUs) * 100).toFixed(1).padStart(5)}%  ${name}`);
    }
  };
  print("self time by function", byFunction);
  print("self time by file", byFile);
}

function shortUrl(url: string): string {
  const at = url.lastIndexOf("/node_modules/");
  if (at >= 0) return url.slice(at + "/node_modules/".length);
  const src = url.search(/\/(src|bench)\//);
  return src >= 0 ? url.slice(src + 1) : url.replace(/^node:/, "");
}

main();
