import { encodeOpusStream } from "../../src/audio/opus-stream.ts";
import type { AppHarness } from "../../src/sim/app-harness.ts";
import { speechFrames, waitFor } from "../sim/voice-test-kit.ts";

/** The weather question, as Opus packets a member's client would send. */
export const QUESTION = encodeOpusStream(speechFrames("speech-weather-question.wav", 150));

/** Non-silent packets the bot has sent into the guild's channel so far. */
export function botPackets(h: AppHarness): number {
  return h.voice.botAudio(h.guild.id).filter((packet) => !packet.isSilence).length;
}

/** The member asks the question; resolves once at least `packets` more bot packets were heard. */
export async function askAndHear(h: AppHarness, packets = 20, timeoutMs = 15_000): Promise<void> {
  await heardBy(h, h.userId);
  const before = botPackets(h);
  await h.voice.speakAs(h.guild.id, h.userId, { opus: QUESTION });
  await waitFor(() => botPackets(h) >= before + packets, "the bot's answer", timeoutMs);
}

/** Voice Live connections the bot opened (one per session). */
export function voiceLiveSessions(h: AppHarness): number {
  return h.local.clientEvents.length;
}

/** Waits until the bot can hear the user: in its DAVE group with the transition done. */
export function heardBy(h: AppHarness, userId: string): Promise<void> {
  return waitFor(() => h.voice.daveSettled(h.guild.id, userId), `user ${userId} in the DAVE group`, 10_000);
}
