import { VoiceConnectionStatus } from "@discordjs/voice";
import { afterEach, beforeAll, beforeEach } from "vitest";
import { trustLoopbackCertificate } from "../../src/sim/tls.ts";
import { LoopbackVoiceServer, type LoopbackVoiceServerOptions } from "../../src/sim/voice-server.ts";
import { ManagedVoiceConnection, type ManagedVoiceConnectionOptions } from "../../src/voice/connection.ts";
import { uniqueGuildId } from "../sim/voice-test-kit.ts";

export const BOT_ID = "100000000000000001";
export const CHANNEL_ID = "300000000000000003";

export interface TestBed {
  readonly server: LoopbackVoiceServer;
  /** Joins a fresh guild through the loopback adapter; destroyed after the test. */
  join(options?: Partial<ManagedVoiceConnectionOptions>): ManagedVoiceConnection;
  /** Runs after the test, before the connections and the server go. */
  cleanup(action: () => void): void;
}

/**
 * Registers vitest hooks giving each test a loopback voice server and tearing down every connection
 * (they are global per guild in @discordjs/voice), cleanup action and socket afterwards.
 */
export function useTestBed(serverOptions: LoopbackVoiceServerOptions = {}): TestBed {
  let server: LoopbackVoiceServer | undefined;
  const connections: ManagedVoiceConnection[] = [];
  const cleanups: (() => void)[] = [];

  beforeAll(() => trustLoopbackCertificate());
  beforeEach(async () => {
    server = await LoopbackVoiceServer.start(serverOptions);
  });
  afterEach(async () => {
    for (const action of cleanups.splice(0).reverse()) action();
    for (const managed of connections.splice(0)) {
      if (managed.connection.state.status !== VoiceConnectionStatus.Destroyed) managed.leave();
    }
    await server?.close();
    server = undefined;
  });

  const bed: TestBed = {
    get server(): LoopbackVoiceServer {
      if (server === undefined) throw new Error("the test bed is only available inside a test");
      return server;
    },
    join(options = {}) {
      const guildId = options.guildId ?? uniqueGuildId();
      const managed = new ManagedVoiceConnection({
        guildId,
        channelId: CHANNEL_ID,
        adapterCreator: bed.server.adapterCreator({ userId: BOT_ID, guildId }),
        ...options,
      });
      connections.push(managed);
      return managed;
    },
    cleanup(action) {
      cleanups.push(action);
    },
  };
  return bed;
}
