import { describe, expect, it } from "vitest";
import { FRAME_SAMPLES_48K } from "../../src/audio/constants.ts";
import { OpusFrameDecoder } from "../../src/audio/opus.ts";
import { defaultPersona } from "../../src/persona.ts";
import type { BotPacket } from "../../src/sim/voice-server.ts";
import { sleep, toneFrames } from "../sim/voice-test-kit.ts";
import { useHarness } from "./helpers.ts";

/**
 * Ducking: Discord reports a user speaking before server VAD decides anything, and
 * the bot lowers its voice at once. The second user here speaks too quietly for the server's VAD
 * (-53 dBFS against its -40 dBFS threshold), so there is no barge-in and the ducked audio is heard.
 */

function rmsBetween(packets: readonly BotPacket[], from: number, to: number): number {
  const decoder = new OpusFrameDecoder();
  let sum = 0;
  let count = 0;
  try {
    for (const packet of packets) {
      if (packet.isSilence) continue;
      const pcm = decoder.decode(packet.opus);
      if (packet.receivedAt < from || packet.receivedAt > to) continue;
      for (let i = 0; i < FRAME_SAMPLES_48K; i++) sum += pcm[2 * i]! ** 2;
      count += FRAME_SAMPLES_48K;
    }
  } finally {
    decoder.destroy();
  }
  return count === 0 ? Number.NaN : Math.sqrt(sum / count);
}

async function talkOver(ducking: boolean, start: ReturnType<typeof useHarness>): Promise<number> {
  const harness = await start();
  const persona = { ...defaultPersona({ instructions: "Echo.", voice: "alloy" }), ducking };
  const guild = await harness.join({ persona });
  const alice = await guild.addUser();
  const bob = await guild.addUser();
  const spokeAt = performance.now();
  // A steady tone, so the echoed answer has a constant level to compare.
  await guild.speak(alice, { pcm: toneFrames(440, 150) });
  const firstAudio = await guild.waitForBotAudio(spokeAt, 10_000);
  expect(firstAudio).toBeDefined();
  await sleep(firstAudio! + 400 - performance.now());
  const quiet = await guild.speak(bob, { pcm: toneFrames(1000, 40, 100) });
  const bobStart = quiet.sentAt[0]!;
  const bobEnd = quiet.sentAt[quiet.sentAt.length - 1]!;
  await sleep(200);
  expect(guild.record.bargeIns).toHaveLength(0);
  const before = rmsBetween(guild.packets, firstAudio! + 60, bobStart);
  const during = rmsBetween(guild.packets, bobStart + 150, bobEnd);
  return during / before;
}

describe("ducking", () => {
  const start = useHarness();

  it("lowers the bot's voice while someone talks over it, when the persona asks for it", async () => {
    const ratio = await talkOver(true, start);
    // DUCK_GAIN is 0.35 (about -9 dB); Opus keeps levels within a few percent.
    expect(ratio).toBeGreaterThan(0.25);
    expect(ratio).toBeLessThan(0.45);
  });

  it("leaves the bot's voice alone by default", async () => {
    const ratio = await talkOver(false, start);
    expect(ratio).toBeGreaterThan(0.85);
  });
});
