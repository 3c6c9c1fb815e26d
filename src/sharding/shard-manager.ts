import { REST, Routes, type Shard, ShardingManager } from "discord.js";
import type { Config, ShardingConfig } from "../config.ts";
import { LoginError } from "../discord/login-error.ts";
import type { Logger } from "../log.ts";
import { BudgetServer } from "./connection-budget.ts";

/**
 * `npm start` with SHARD_COUNT: discord.js's ShardingManager runs one bot process per shard (the
 * same entry file, told its shard through the environment) and this module restarts a shard that
 * dies, with a growing delay so a crash loop does not hammer Discord's identify limit.
 */

const FIRST_RESTART_DELAY_MS = 1_000;
const MAX_RESTART_DELAY_MS = 60_000;
/** A shard up this long after its last restart has recovered: the next failure starts the delays over. */
const STABLE_AFTER_MS = 60_000;
/** How long a shard may take from spawn to discord.js ready. */
const SPAWN_TIMEOUT_MS = 60_000;
/** Each shard's own graceful shutdown takes at most 5 s; a little more before giving up on it. */
const STOP_DEADLINE_MS = 7_000;

/** Set by discord.js in the environment of every process a ShardingManager starts. */
export function isShardProcess(env: NodeJS.ProcessEnv): boolean {
  return env.SHARDING_MANAGER === "true";
}

/**
 * A shard process's metrics port: METRICS_PORT plus its shard id, so the shards of one host do
 * not fight over one port (shard 0 keeps METRICS_PORT itself).
 */
export function shardMetricsPort(base: number | undefined, env: NodeJS.ProcessEnv): number | undefined {
  if (base === undefined || base === 0) return base;
  const shard = Number(env.SHARDS);
  return Number.isInteger(shard) && shard >= 0 ? base + shard : base;
}

/** Discord's recommended shard count for `auto`, asked through DISCORD_API_URL like everything else. */
async function resolveShardCount(config: Config, sharding: ShardingConfig): Promise<number> {
  if (sharding.count !== "auto") return sharding.count;
  const rest = new REST({ api: config.discord.apiUrl }).setToken(config.discord.token);
  try {
    const gateway = (await rest.get(Routes.gatewayBot())) as { shards?: unknown };
    return typeof gateway.shards === "number" && gateway.shards >= 1 ? gateway.shards : 1;
  } catch (error) {
    if ((error as { status?: unknown }).status === 401)
      throw new LoginError(
        "DISCORD_TOKEN was rejected by Discord (401 Unauthorized): copy the token again from the Developer Portal (Bot > Reset Token)",
      );
    throw error;
  }
}

export interface ShardManagerHandle {
  /** Stops every shard (each shuts down gracefully) and resolves once all have exited. */
  stop(): Promise<void>;
}

export async function runShardManager(options: {
  readonly config: Config;
  readonly sharding: ShardingConfig;
  readonly entry: string;
  readonly logger: Logger;
}): Promise<ShardManagerHandle> {
  const { config, sharding, logger } = options;
  const total = await resolveShardCount(config, sharding);
  const manager = new ShardingManager(options.entry, {
    totalShards: total,
    ...(sharding.ids === undefined ? {} : { shardList: [...sharding.ids] }),
    token: config.discord.token,
    respawn: false,
    mode: "process",
    execArgv: process.execArgv,
  });
  let stopping = false;
  const restarts = new Map<number, { failures: number; readyAt: number }>();

  const restart = (shard: Shard): void => {
    if (stopping) return;
    const history = restarts.get(shard.id) ?? { failures: 0, readyAt: 0 };
    if (performance.now() - history.readyAt > STABLE_AFTER_MS && history.readyAt > 0) history.failures = 0;
    const delayMs = Math.min(FIRST_RESTART_DELAY_MS * 2 ** history.failures, MAX_RESTART_DELAY_MS);
    history.failures++;
    restarts.set(shard.id, history);
    logger.error(
      { shard: shard.id, delayMs, failures: history.failures },
      "shard process died; restarting it",
    );
    setTimeout(() => {
      if (stopping) return;
      shard.spawn(SPAWN_TIMEOUT_MS).catch((error: unknown) => {
        // A shard that dies before it is ready comes back through `death` again.
        logger.warn({ err: error, shard: shard.id }, "restarted shard did not become ready");
      });
    }, delayMs).unref();
  };

  const budgets = new BudgetServer(logger);
  manager.on("shardCreate", (shard) => {
    budgets.serve(shard);
    shard.on("ready", () => {
      const history = restarts.get(shard.id);
      if (history !== undefined) history.readyAt = performance.now();
      logger.info({ shard: shard.id, total }, "shard ready");
    });
    shard.on("death", () => restart(shard));
  });

  logger.info({ total, shards: manager.shardList === "auto" ? "all" : manager.shardList }, "starting shards");
  await manager.spawn({ amount: total, timeout: SPAWN_TIMEOUT_MS });

  return {
    async stop() {
      stopping = true;
      const exits = [...manager.shards.values()].map((shard) => {
        const child = shard.process;
        if (child === null || child.exitCode !== null) return Promise.resolve();
        return new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            child.kill("SIGKILL");
            resolve();
          }, STOP_DEADLINE_MS);
          child.once("exit", () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill("SIGTERM");
        });
      });
      await Promise.all(exits);
    },
  };
}
