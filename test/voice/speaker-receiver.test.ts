import { describe, expect, it } from "vitest";
import { encodeOpusStream } from "../../src/audio/opus-stream.ts";
import type { ManagedVoiceConnection } from "../../src/voice/connection.ts";
import { type SpeakerPredicate, SpeakerReceiver } from "../../src/voice/speaker-receiver.ts";
import {
  atInputRate,
  bestFrameCorrelation,
  decodeToMono,
  joined,
  sleep,
  speechFrames,
  takeFrame,
  toneFrames,
  waitFor,
} from "../sim/voice-test-kit.ts";
import { useTestBed } from "./testbed.ts";

const ALICE = "200000000000000002";
const BOB = "200000000000000003";
const SOME_BOT = "200000000000000004";

const bed = useTestBed();

interface Heard {
  readonly frames: Map<string, Int16Array[]>;
  readonly receiver: SpeakerReceiver;
}

/** Joins, listens with `isAllowed`, and keeps a copy of every frame (24 kHz mono) per user. */
async function listen(
  isAllowed: SpeakerPredicate = () => true,
): Promise<Heard & { managed: ManagedVoiceConnection }> {
  const managed = bed.join();
  await managed.ready();
  const frames = new Map<string, Int16Array[]>();
  const receiver = new SpeakerReceiver({
    receiver: managed.connection.receiver,
    isAllowed,
    inputRate: 24_000,
    onFrame: (speaker) => {
      const list = frames.get(speaker.userId) ?? [];
      if (list.length === 0) frames.set(speaker.userId, list);
      list.push(takeFrame(speaker));
    },
  });
  bed.cleanup(() => receiver.close());
  return { managed, frames, receiver };
}

async function addUsers(managed: ManagedVoiceConnection, ...userIds: string[]): Promise<void> {
  for (const userId of userIds) bed.server.addUser(managed.guildId, userId);
  await waitFor(
    () =>
      userIds.every(
        (userId) =>
          managed.connection.receiver.ssrcMap.get(userId) !== undefined &&
          bed.server.daveSettled(managed.guildId, userId),
      ),
    "the users' SSRCs and DAVE membership",
  );
}

describe("SpeakerReceiver", () => {
  it("decodes two simultaneous speakers into separate streams, first frame included", async () => {
    const { managed, frames, receiver } = await listen();
    await addUsers(managed, ALICE, BOB);
    const alice = encodeOpusStream(speechFrames("speech-weather-question.wav", 50));
    const bob = encodeOpusStream(speechFrames("speech-meeting-summary.wav", 50));

    await Promise.all([
      bed.server.speakAs(managed.guildId, ALICE, { opus: alice }),
      bed.server.speakAs(managed.guildId, BOB, { opus: bob }),
    ]);
    await waitFor(() => frames.get(ALICE)?.length === 50 && frames.get(BOB)?.length === 50, "50 frames each");

    const heardAlice = joined(frames.get(ALICE)!);
    const heardBob = joined(frames.get(BOB)!);
    // Lag 0 only: a lost first packet would shift the whole stream by a frame.
    expect(bestFrameCorrelation(heardAlice, atInputRate(decodeToMono(alice)), 0, 480)).toBeGreaterThan(0.999);
    expect(bestFrameCorrelation(heardBob, atInputRate(decodeToMono(bob)), 0, 480)).toBeGreaterThan(0.999);
    expect(bestFrameCorrelation(heardAlice, atInputRate(decodeToMono(bob)), 3, 480)).toBeLessThan(0.5);
    expect(receiver.stats()).toEqual(
      expect.arrayContaining([
        { userId: ALICE, framesReceived: 50, decodeErrors: 0, streamErrors: 0, daveUndecrypted: 0 },
        { userId: BOB, framesReceived: 50, decodeErrors: 0, streamErrors: 0, daveUndecrypted: 0 },
      ]),
    );
  });

  it("ignores bots and disallowed users, asking about each user once", async () => {
    const asked: string[] = [];
    const { managed, frames } = await listen((userId) => {
      asked.push(userId);
      return userId !== SOME_BOT;
    });
    await addUsers(managed, ALICE, SOME_BOT);
    const tone = encodeOpusStream(toneFrames(440, 5));
    for (let burst = 0; burst < 2; burst++) {
      await Promise.all([
        bed.server.speakAs(managed.guildId, ALICE, { opus: tone }),
        bed.server.speakAs(managed.guildId, SOME_BOT, { opus: tone }),
      ]);
      await sleep(150); // past the library's 100 ms speaking timeout, so the next burst starts anew
    }
    expect(frames.get(ALICE)).toHaveLength(10);
    expect(frames.has(SOME_BOT)).toBe(false);
    expect(asked.sort()).toEqual([ALICE, SOME_BOT].sort());
  });

  it("holds a speaker's first words while an asynchronous decision is pending, then hears all of them", async () => {
    const { managed, frames } = await listen(async (userId) => {
      await sleep(100);
      return userId === ALICE;
    });
    await addUsers(managed, ALICE, BOB);
    const alice = encodeOpusStream(speechFrames("speech-weather-question.wav", 20));
    await Promise.all([
      bed.server.speakAs(managed.guildId, ALICE, { opus: alice }),
      bed.server.speakAs(managed.guildId, BOB, { pcm: toneFrames(440, 20) }),
    ]);
    await waitFor(() => frames.get(ALICE)?.length === 20, "all 20 of Alice's frames");
    expect(
      bestFrameCorrelation(joined(frames.get(ALICE)!), atInputRate(decodeToMono(alice)), 0, 480),
    ).toBeGreaterThan(0.999);
    expect(frames.get(BOB)).toBeUndefined();
  });

  it("keeps hearing a speaker after an undecryptable packet and an undecodable frame", async () => {
    const { managed, frames, receiver } = await listen();
    await addUsers(managed, ALICE);
    const tone = encodeOpusStream(toneFrames(440, 10));
    const garbage = Buffer.from([0xff, 0xff, 0xff, 0xff]);

    await bed.server.speakAs(managed.guildId, ALICE, { opus: tone });
    expect(bed.server.sendCorruptPacket(managed.guildId, ALICE)).toBe(true);
    await sleep(20);
    await bed.server.speakAs(managed.guildId, ALICE, { opus: [garbage, ...tone] });
    await waitFor(() => frames.get(ALICE)?.length === 21, "21 frames");

    expect(receiver.stats()).toEqual([
      { userId: ALICE, framesReceived: 21, decodeErrors: 1, streamErrors: 1, daveUndecrypted: 0 },
    ]);
  });

  it("lets go of a speaker who leaves the channel", async () => {
    const { managed, frames, receiver } = await listen();
    await addUsers(managed, ALICE);
    await bed.server.speakAs(managed.guildId, ALICE, { pcm: toneFrames(440, 3) });
    await waitFor(() => frames.get(ALICE)?.length === 3, "Alice's frames");

    bed.server.removeUser(managed.guildId, ALICE);
    await waitFor(() => receiver.stats().length === 0, "Alice to be forgotten");
  });

  it("closes itself when the connection ends", async () => {
    const { managed, frames, receiver } = await listen();
    await addUsers(managed, ALICE);
    await bed.server.speakAs(managed.guildId, ALICE, { pcm: toneFrames(440, 3) });
    await waitFor(() => frames.get(ALICE)?.length === 3, "Alice's frames");
    managed.leave();
    expect(receiver.stats()).toEqual([]);
  });
});
