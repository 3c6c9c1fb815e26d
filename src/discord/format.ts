import type { APIEmbed, APIEmbedField } from "discord.js";
import { opusCodec } from "../audio/opus-codec.ts";
import type { Backend, ConversationStatus, LatencyFigures } from "../bridge/types.ts";
import {
  type CaptionSettings,
  type GuildSettings,
  type ListenPolicy,
  type Persona,
  smartTurnTaking,
} from "../persona.ts";
import type { UsageTotals } from "../store/guild-store.ts";
import type { ShardPosition } from "./context.ts";

/** How the commands show settings and figures to people. Pure functions, no Discord calls. */

export const MESSAGE_LIMIT = 2000;
const EMBED_DESCRIPTION_LIMIT = 4096;
const FIELD_LIMIT = 1024;
const EMBED_COLOR = 0x5865f2;

export function truncate(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}

export function backendLabel(backend: Backend): string {
  return backend === "azure" ? "Azure Voice Live" : "local echo server (no Azure endpoint configured)";
}

export function listenLabel(listen: ListenPolicy): string {
  if (listen.mode === "everyone") return "everyone in the channel";
  if (listen.mode === "initiator") return "only the member who ran /join";
  return `members with the <@&${listen.roleId}> role`;
}

export function captionsLabel(captions: CaptionSettings): string {
  if (!captions.enabled) return "off";
  return captions.channelId === null ? "on, in the voice channel's chat" : `on, in <#${captions.channelId}>`;
}

/** One line: voice, temperature, turn detection and the start of the instructions. */
export function personaSummary(persona: Persona): string {
  const turn = persona.turnDetection;
  return [
    `voice ${persona.voice}`,
    `temperature ${persona.temperature}`,
    `${turn.type} (threshold ${turn.threshold}, silence ${turn.silenceDurationMs} ms)`,
    `“${truncate(persona.instructions.replace(/\s+/g, " "), 120)}”`,
  ].join(" · ");
}

function turnTakingLabel(persona: Persona): string {
  if (persona.turnTaking === "smart" && !smartTurnTaking(persona)) {
    return "smart, but semantic_vad decides interruptions itself: any speech stops me";
  }
  return persona.turnTaking === "smart"
    ? `smart: I pause when talked over, go on after a cough or a backchannel, stop for speech over ${persona.minInterruptionMs} ms or words`
    : "service: any speech stops me";
}

function wakeLabel(persona: Persona): string {
  const name = persona.wakeName ?? "my display name";
  const follow = `, or within ${persona.followUpSeconds} s after I spoke`;
  switch (persona.wakeMode) {
    case "off":
      return `off: I answer every turn (name: ${name})`;
    case "group":
      return `${name}: needed when two or more people are in the channel${follow}`;
    case "always":
      return `${name}: needed in every turn${follow}`;
  }
}

function onOff(value: boolean): string {
  return value ? "on" : "off";
}

export function settingsEmbed(settings: GuildSettings, title: string): APIEmbed {
  const { persona } = settings;
  const turn = persona.turnDetection;
  const fields: APIEmbedField[] = [
    {
      name: "Voice",
      value:
        persona.voiceEndpointId === null
          ? persona.voice
          : `${persona.voice} (endpoint ${persona.voiceEndpointId})`,
      inline: true,
    },
    { name: "Temperature", value: String(persona.temperature), inline: true },
    {
      name: "Turn detection",
      value: `${turn.type}, threshold ${turn.threshold}, silence ${turn.silenceDurationMs} ms, prefix padding ${turn.prefixPaddingMs} ms`,
    },
    {
      name: "Audio",
      value: `noise suppression ${onOff(persona.noiseSuppression)}, echo cancellation ${onOff(persona.echoCancellation)}, ducking ${onOff(persona.ducking)}`,
    },
    { name: "Transcription language", value: persona.transcriptionLanguage ?? "automatic", inline: true },
    { name: "Who is speaking", value: persona.attribution ? "told to the model" : "not told", inline: true },
    { name: "Time zone", value: persona.timeZone, inline: true },
    { name: "Turn taking", value: turnTakingLabel(persona) },
    { name: "Wake name", value: wakeLabel(persona) },
    { name: "Tools", value: persona.tools.length === 0 ? "none" : persona.tools.join(", ") },
    { name: "Listens to", value: listenLabel(settings.listen), inline: true },
    { name: "Captions", value: captionsLabel(settings.captions), inline: true },
  ];
  return {
    title,
    description: truncate(persona.instructions, EMBED_DESCRIPTION_LIMIT),
    color: EMBED_COLOR,
    fields,
  };
}

export function joinedEmbed(channelId: string, settings: GuildSettings, backend: Backend): APIEmbed {
  return {
    title: "Listening",
    color: EMBED_COLOR,
    fields: [
      { name: "Channel", value: `<#${channelId}>`, inline: true },
      { name: "Backend", value: backendLabel(backend), inline: true },
      { name: "Listens to", value: listenLabel(settings.listen), inline: true },
      { name: "Persona", value: truncate(personaSummary(settings.persona), FIELD_LIMIT) },
    ],
  };
}

export function durationLabel(totalSeconds: number): string {
  const seconds = Math.round(totalSeconds);
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const rest = seconds % 60;
  if (hours > 0) return `${hours} h ${minutes} min`;
  if (minutes > 0) return `${minutes} min ${rest} s`;
  return `${rest} s`;
}

function latencyLabel(figures: LatencyFigures | undefined): string {
  return figures === undefined
    ? "no data yet"
    : `p50 ${Math.round(figures.p50)} ms, p99 ${Math.round(figures.p99)} ms`;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

export function usageLabel(usage: UsageTotals): string {
  return [
    `audio sent ${durationLabel(usage.secondsAppended)}, audio played ${durationLabel(usage.secondsPlayed)}`,
    `tokens: ${usage.inputTokens} in, ${usage.outputTokens} out, ${usage.totalTokens} total`,
  ].join("\n");
}

/** DAVE trouble only: per-speaker frames lost to end-to-end decryption, and rejoins for it. */
function daveLabel(status: ConversationStatus): string {
  const failures = Object.entries(status.daveDecryptFailures ?? {}).filter(([, count]) => count > 0);
  if (failures.length === 0 && (status.daveRecoveries ?? 0) === 0) return "";
  const speakers = failures.map(([userId, count]) => `<@${userId}> ${count}`).join(", ");
  return `DAVE: undecryptable frames ${speakers || "none"}; ${status.daveRecoveries ?? 0} rejoin(s)`;
}

export function statusEmbed(
  backend: Backend,
  status: ConversationStatus | undefined,
  settings: GuildSettings,
  usage: UsageTotals,
  now: number,
  shard?: ShardPosition,
): APIEmbed {
  const fields: APIEmbedField[] = [
    { name: "Backend", value: backendLabel(backend), inline: true },
    { name: "Opus", value: opusCodec().backend.description, inline: true },
  ];
  if (shard !== undefined)
    fields.push({ name: "Shard", value: `${shard.id} of ${shard.count}`, inline: true });
  if (status === undefined) {
    fields.push({ name: "Voice channel", value: "not in a voice channel", inline: true });
  } else {
    const responses = status.recentResponseMs;
    fields.push(
      { name: "Voice channel", value: `<#${status.channelId}>`, inline: true },
      {
        name: "Connection",
        value: [
          `Discord voice: ${status.voiceConnection}`,
          `Voice Live: ${status.voiceLive}`,
          `up ${durationLabel((now - status.startedAt) / 1000)}, ${status.speakers} speaking, bot ${status.botSpeaking ? "speaking" : "quiet"}`,
          daveLabel(status),
        ]
          .filter((line) => line !== "")
          .join("\n"),
      },
      {
        name: "Bridge latency",
        value: `in: ${latencyLabel(status.bridgeInputLatencyMs)}\nout: ${latencyLabel(status.bridgeOutputLatencyMs)}`,
      },
      {
        name: "Recent response times",
        value:
          responses.length === 0
            ? "no responses yet"
            : `${responses.map((ms) => Math.round(ms)).join(", ")} ms (median ${Math.round(median(responses))} ms)`,
      },
    );
  }
  fields.push(
    { name: "Persona", value: truncate(personaSummary(settings.persona), FIELD_LIMIT) },
    { name: `Today (UTC ${usage.day})`, value: usageLabel(usage) },
  );
  return { title: "Status", color: EMBED_COLOR, fields };
}

export function problemsMessage(problems: readonly string[]): string {
  return truncate(
    `Nothing was saved:\n${problems.map((problem) => `• ${problem}`).join("\n")}`,
    MESSAGE_LIMIT,
  );
}
