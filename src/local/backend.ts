import { randomBytes } from "node:crypto";
import type { AzureVoiceLiveConfig } from "../config.ts";
import type { Logger } from "../log.ts";
import { DEFAULT_API_VERSION, DEFAULT_MODEL } from "../voicelive/capabilities.ts";
import { type LocalVoiceLiveServer, startLocalVoiceLiveServer } from "./server.ts";

/**
 * The local backend: a Voice Live-compatible server on 127.0.0.1 (echo replies) and the
 * configuration a bot uses to reach it. The app starts one when no Azure endpoint is configured;
 * the simulator, the benchmarks and the tests start theirs the same way.
 */

export interface LocalBackendOptions {
  /** The key the server requires: omitted, a random one; `null`, none. */
  readonly apiKey?: string | null;
  /** Real-time multiple of the replies (tests speed them up). */
  readonly speed?: number;
  readonly chunkMs?: number;
  readonly logger: Logger;
}

export interface LocalBackend {
  readonly server: LocalVoiceLiveServer;
  /** What a bot's Voice Live client is configured with to use this server. */
  readonly azure: AzureVoiceLiveConfig;
  close(): Promise<void>;
}

export async function startLocalBackend(options: LocalBackendOptions): Promise<LocalBackend> {
  const apiKey =
    options.apiKey === null ? undefined : (options.apiKey ?? randomBytes(24).toString("base64url"));
  const server = await startLocalVoiceLiveServer({
    port: 0,
    ...(apiKey === undefined ? {} : { apiKey }),
    reply: "echo",
    ...(options.speed === undefined ? {} : { speed: options.speed }),
    ...(options.chunkMs === undefined ? {} : { chunkMs: options.chunkMs }),
    logger: options.logger,
  });
  return { server, azure: localVoiceLiveConfig(server.url, apiKey), close: () => server.close() };
}

/**
 * A bot's configuration for a local Voice Live server: the default model and API version, so the
 * server enforces what Azure would for the default deployment.
 */
export function localVoiceLiveConfig(url: string, apiKey: string | undefined): AzureVoiceLiveConfig {
  return {
    endpoint: url,
    apiKey,
    model: DEFAULT_MODEL,
    apiVersion: DEFAULT_API_VERSION,
    agent: undefined,
    tokenScope: "https://ai.azure.com/.default",
  };
}
