import type { TokenCredential } from "@azure/identity";
import { encodeOpusStream } from "../../src/audio/opus-stream.ts";
import type { ConversationStatus } from "../../src/bridge/types.ts";
import type { AzureVoiceLiveConfig } from "../../src/config.ts";
import type { ConversationManager } from "../../src/conversation/manager.ts";
import { localVoiceLiveConfig } from "../../src/local/backend.ts";
import type { LocalVoiceLiveServer } from "../../src/local/server.ts";
import type { Logger } from "../../src/log.ts";
import { defaultPersona, type GuildSettings } from "../../src/persona.ts";
import { type SimGuild, SimHarness } from "../../src/sim/harness.ts";
import type { LoopbackVoiceServer } from "../../src/sim/voice-server.ts";
import { speechFrames, uniqueGuildId, waitFor } from "../sim/voice-test-kit.ts";

/**
 * The reliability and security suites' view of the simulator's harness (src/sim/harness.ts): one
 * guild whose conversation is pointed, as an Azure configuration would be, at the local Voice Live
 * server (or a proxy or fake service in front of it), one user in the channel, and the few actions
 * these suites repeat.
 */

export const USER_ID = "200000000000000002";
export const RIG_API_KEY = "rig-test-key-5b0c1d2e3f";

/** The first words of the weather question (20 ms frames 15-39): speech from the first frame. */
const UTTERANCE_FRAMES = [15, 40] as const;
export const UTTERANCE_MS = (UTTERANCE_FRAMES[1] - UTTERANCE_FRAMES[0]) * 20;
/** Non-silent bot packets that count as "the bot answered". */
const ANSWER_PACKETS = 5;

export interface RigOptions {
  readonly logger: Logger;
  /** The key the local server demands; undefined: none (any credential is let in). */
  readonly serverApiKey?: string | undefined;
  /** The bot's Voice Live configuration, given the local server's URL. Default: the server's key. */
  readonly azure?: (endpoint: string) => AzureVoiceLiveConfig;
  readonly credential?: TokenCredential;
  readonly captions?: boolean;
  /** Reply speed of the local server (times real time). */
  readonly speed?: number;
}

export interface Rig {
  readonly voice: LoopbackVoiceServer;
  readonly local: LocalVoiceLiveServer;
  readonly manager: ConversationManager;
  readonly guildId: string;
  /** What `notify` was asked to post. */
  readonly notices: string[];
  /** Caption posts and edits, in order. */
  readonly captions: string[];
  /** Non-silent packets the bot has sent so far. */
  readonly botPackets: number;
  settings(temperature?: number): GuildSettings;
  join(): Promise<void>;
  status(): ConversationStatus | undefined;
  bothReady(): boolean;
  /** Waits until the bot has nothing left to say. */
  quiet(timeoutMs?: number): Promise<void>;
  /** Speaks the utterance (paced), calling `during` somewhere in the middle of it. */
  speak(during?: () => void, random?: () => number): Promise<void>;
  /** Speaks and waits for the answer's first packets; false when none came in time. */
  turn(afterAnswerStarts?: () => void, timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

export function rigAzure(endpoint: string, apiKey: string | undefined = RIG_API_KEY): AzureVoiceLiveConfig {
  return localVoiceLiveConfig(endpoint, apiKey);
}

export async function startRig(options: RigOptions): Promise<Rig> {
  const serverApiKey = "serverApiKey" in options ? options.serverApiKey : RIG_API_KEY;
  const harness = await SimHarness.start({
    backend: {
      kind: "local",
      speed: options.speed ?? 10,
      serverApiKey: serverApiKey ?? null,
      botConfig: (endpoint) => options.azure?.(endpoint) ?? rigAzure(endpoint),
      ...(options.credential === undefined ? {} : { credential: options.credential }),
    },
    recordAudio: false,
    voiceHeartbeatIntervalMs: 1_000,
    idleTimeoutSeconds: 3_600,
    logger: options.logger,
  });
  const local = harness.local;
  if (local === undefined) throw new Error("the rig runs the local server");
  const guildId = uniqueGuildId();
  const utterance = encodeOpusStream(
    speechFrames("speech-weather-question.wav", UTTERANCE_FRAMES[1]).slice(UTTERANCE_FRAMES[0]),
  );
  let guild: SimGuild | undefined;
  const joined = (): SimGuild => {
    if (guild === undefined) throw new Error("join the rig first");
    return guild;
  };

  const settings = (temperature = 0.8): GuildSettings => {
    const persona = defaultPersona({ instructions: "Answer briefly.", voice: "alloy" });
    return {
      persona: {
        ...persona,
        temperature,
        turnDetection: { ...persona.turnDetection, silenceDurationMs: 200 },
      },
      captions: { enabled: options.captions ?? false, channelId: null },
      listen: { mode: "everyone" },
    };
  };
  const status = (): ConversationStatus | undefined => harness.manager.status(guildId);
  const speak = async (during?: () => void, random: () => number = Math.random): Promise<void> => {
    const speaking = harness.voice.speakAs(guildId, USER_ID, { opus: utterance });
    const timer = during === undefined ? undefined : setTimeout(during, 40 + random() * (UTTERANCE_MS - 80));
    await speaking;
    clearTimeout(timer);
  };
  const botPackets = (): number => guild?.record.nonSilentPackets ?? 0;

  return {
    voice: harness.voice,
    local,
    manager: harness.manager,
    guildId,
    get notices() {
      return guild?.record.notices ?? [];
    },
    get captions() {
      return guild?.record.captions.flatMap((message) => message.texts) ?? [];
    },
    get botPackets() {
      return botPackets();
    },
    settings,
    async join() {
      const { persona } = settings();
      guild = await harness.join({ guildId, persona, captions: options.captions ?? false });
      harness.voice.addUser(guildId, USER_ID);
      await waitFor(() => harness.voice.daveSettled(guildId, USER_ID), "the user's DAVE membership");
    },
    status,
    bothReady: () => status()?.voiceLive === "ready" && status()?.voiceConnection === "ready",
    quiet: (timeoutMs = 10_000) =>
      waitFor(() => status()?.botSpeaking === false, "the bot to finish", timeoutMs),
    speak,
    async turn(afterAnswerStarts, timeoutMs = 4_000) {
      joined();
      const before = botPackets();
      await speak();
      try {
        await waitFor(() => botPackets() - before >= ANSWER_PACKETS, "the bot's answer", timeoutMs);
      } catch {
        return false;
      }
      afterAnswerStarts?.();
      return true;
    },
    close: () => harness.close(),
  };
}
