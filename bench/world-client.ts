import { type ChildProcess, fork } from "node:child_process";
import type { DiscordGatewayAdapterCreator } from "@discordjs/voice";
import { createLoopbackAdapter } from "../src/sim/gateway-adapter.ts";
import type {
  PacketLog,
  WorldCommand,
  WorldMessage,
  WorldReady,
  WorldReply,
  WorldStats,
} from "./world-protocol.ts";

/**
 * The bot process's handle on its world (bench/world.ts, a child process): commands over IPC, the
 * clock offset between the two processes, and the bot-side gateway adapter.
 *
 * Why a child process and not a worker thread: process.cpuUsage() counts every thread of a process,
 * so a world in a worker would be billed to the bot. The only thing that must stay in the bot
 * process is the gateway adapter @discordjs/voice is handed; it needs nothing but the voice
 * endpoint and a token, which the world issues (playing the main gateway once) and sends over.
 */

interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

export class WorldClient {
  readonly ready: WorldReady;
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  /** world performance.now() minus bot performance.now(), estimated by offsetFromPings(). */
  #offsetMs = 0;

  private constructor(child: ChildProcess, ready: WorldReady) {
    this.#child = child;
    this.ready = ready;
    child.on("message", (message: WorldMessage) => {
      if (!("id" in message)) return;
      this.#settle(message);
    });
    child.on("exit", (code) => {
      for (const pending of this.#pending.values())
        pending.reject(new Error(`the bench world exited (${code}) with a command pending`));
      this.#pending.clear();
    });
  }

  static async start(): Promise<WorldClient> {
    const child = fork(new URL("./world.ts", import.meta.url), [], {
      execArgv: ["--disable-warning=ExperimentalWarning"],
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const ready = await new Promise<WorldReady>((resolve, reject) => {
      const onExit = (code: number | null): void =>
        reject(new Error(`the bench world exited (${code}) before it was ready`));
      child.once("exit", onExit);
      child.once("error", reject);
      child.once("message", (message: WorldMessage) => {
        child.off("exit", onExit);
        child.off("error", reject);
        if ("type" in message && message.type === "ready") resolve(message);
        else reject(new Error("the bench world sent something before ready"));
      });
    });
    const client = new WorldClient(child, ready);
    await client.syncClock();
    return client;
  }

  /** The world's pid, so a caller can tell its CPU apart. */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  send<T>(command: WorldCommand): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.#child.send({ id, command }, (error) => {
        if (error === null) return;
        this.#pending.delete(id);
        reject(error);
      });
    });
  }

  /** Issues the bot's voice token for a guild and returns the adapter creator to join with. */
  async prepareGuild(ids: {
    readonly guildId: string;
    readonly channelId: string;
    readonly botUserId: string;
    readonly userIds: readonly string[];
  }): Promise<DiscordGatewayAdapterCreator> {
    const token = await this.send<string>({ type: "prepare", ...ids });
    const adapter = createLoopbackAdapter(
      { endpoint: this.ready.voiceEndpoint, onVoiceStateRequest: () => true, issueToken: () => token },
      { userId: ids.botUserId, guildId: ids.guildId },
    );
    return adapter.creator;
  }

  /** Sends a clip as the user, paced at 20 ms; resolves with the frames sent once it has been said. */
  speak(guildId: string, userId: string, clip: number, frames?: number): Promise<number> {
    return this.send<number>({
      type: "speak",
      guildId,
      userId,
      clip,
      ...(frames === undefined ? {} : { frames }),
    });
  }

  record(guildIds: readonly string[]): Promise<void> {
    return this.send({ type: "record", guildIds });
  }

  /** The guild's recorded bot packets with arrival times converted to this process's clock. */
  async packets(guildId: string): Promise<PacketLog> {
    const log = await this.send<PacketLog>({ type: "packets", guildId });
    const at = log.at.map((worldAt) => worldAt - this.#offsetMs);
    return { at, silent: log.silent };
  }

  resetStats(): Promise<void> {
    return this.send({ type: "resetStats" });
  }

  stats(): Promise<WorldStats> {
    return this.send<WorldStats>({ type: "stats" });
  }

  /**
   * Estimates the offset between the two processes' performance.now() from round trips: the world
   * read its clock somewhere inside each round trip, so the shortest one bounds the error to half
   * its length (IPC round trips on loopback take a fraction of a millisecond).
   */
  async syncClock(pings = 40): Promise<{ offsetMs: number; errorMs: number }> {
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < pings; i++) {
      const sentAt = performance.now();
      const worldNow = await this.send<number>({ type: "now" });
      const receivedAt = performance.now();
      if (receivedAt - sentAt < best) {
        best = receivedAt - sentAt;
        this.#offsetMs = worldNow - (sentAt + receivedAt) / 2;
      }
    }
    return { offsetMs: this.#offsetMs, errorMs: best / 2 };
  }

  async close(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.#child.once("exit", () => resolve()));
    await this.send({ type: "close" }).catch(() => undefined);
    const timer = setTimeout(() => this.#child.kill(), 5_000);
    await exited;
    clearTimeout(timer);
  }

  #settle(reply: WorldReply): void {
    const pending = this.#pending.get(reply.id);
    if (pending === undefined) return;
    this.#pending.delete(reply.id);
    if (reply.ok) pending.resolve(reply.value);
    else pending.reject(new Error(`bench world: ${reply.error}`));
  }
}
