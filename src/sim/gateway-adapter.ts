import { randomBytes } from "node:crypto";
import type {
  DiscordGatewayAdapterCreator,
  DiscordGatewayAdapterImplementerMethods,
  DiscordGatewayAdapterLibraryMethods,
} from "@discordjs/voice";

/** The gateway op 4 (Voice State Update) @discordjs/voice asks the adapter to send. */
export interface GatewayVoiceStateRequest {
  readonly guildId: string;
  readonly channelId: string | null;
  readonly selfDeaf: boolean;
  readonly selfMute: boolean;
}

/** What the simulated main gateway needs from the loopback voice server. */
export interface LoopbackAdapterHost {
  readonly endpoint: string;
  /** Sees every request; returning false models a gateway shard that cannot send right now. */
  onVoiceStateRequest(request: GatewayVoiceStateRequest): boolean;
  /** A fresh voice token, as every VOICE_SERVER_UPDATE carries one. */
  issueToken(guildId: string): string;
}

export interface LoopbackAdapter {
  readonly creator: DiscordGatewayAdapterCreator;
  /**
   * Delivers VOICE_STATE_UPDATE then VOICE_SERVER_UPDATE on a later turn, as Discord does after a
   * join or a move (the library needs both, state first, and must not be called back synchronously).
   */
  deliver(channelId: string | null, selfDeaf: boolean, selfMute: boolean): void;
}

type StateUpdate = Parameters<DiscordGatewayAdapterLibraryMethods["onVoiceStateUpdate"]>[0];

/**
 * A stand-in for discord.js's `guild.voiceAdapterCreator`: answers the bot's voice state requests
 * for one guild with packets pointing at the loopback voice server. The gateway session id stays
 * the same for the adapter's life, as it does for a real bot's gateway connection.
 */
export function createLoopbackAdapter(
  host: LoopbackAdapterHost,
  ids: { readonly userId: string; readonly guildId: string },
): LoopbackAdapter {
  const gatewaySessionId = randomBytes(16).toString("hex");
  let library: DiscordGatewayAdapterLibraryMethods | undefined;

  const deliver = (channelId: string | null, selfDeaf: boolean, selfMute: boolean): void => {
    setImmediate(() => {
      const current = library;
      if (current === undefined) return;
      const state: StateUpdate = {
        guild_id: ids.guildId,
        channel_id: channelId,
        user_id: ids.userId,
        session_id: gatewaySessionId,
        deaf: false,
        mute: false,
        self_deaf: selfDeaf,
        self_mute: selfMute,
        self_video: false,
        suppress: false,
        request_to_speak_timestamp: null,
      };
      current.onVoiceStateUpdate(state);
      if (channelId === null || library !== current) return;
      current.onVoiceServerUpdate({
        guild_id: ids.guildId,
        token: host.issueToken(ids.guildId),
        endpoint: host.endpoint,
      });
    });
  };

  const creator: DiscordGatewayAdapterCreator = (methods) => {
    library = methods;
    const implementer: DiscordGatewayAdapterImplementerMethods = {
      sendPayload(payload: unknown): boolean {
        const request = parseVoiceStateRequest(payload);
        if (request === undefined || request.guildId !== ids.guildId) return false;
        if (!host.onVoiceStateRequest(request)) return false;
        deliver(request.channelId, request.selfDeaf, request.selfMute);
        return true;
      },
      destroy(): void {
        if (library === methods) library = undefined;
      },
    };
    return implementer;
  };

  return { creator, deliver };
}

function parseVoiceStateRequest(payload: unknown): GatewayVoiceStateRequest | undefined {
  if (typeof payload !== "object" || payload === null) return undefined;
  const { op, d } = payload as { op?: unknown; d?: unknown };
  if (op !== 4 || typeof d !== "object" || d === null) return undefined;
  const data = d as Record<string, unknown>;
  if (typeof data.guild_id !== "string") return undefined;
  return {
    guildId: data.guild_id,
    channelId: typeof data.channel_id === "string" ? data.channel_id : null,
    selfDeaf: data.self_deaf === true,
    selfMute: data.self_mute === true,
  };
}
