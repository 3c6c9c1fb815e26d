import { afterAll, describe, expect, it } from "vitest";
import { encodeOpusStream } from "../../src/audio/opus-stream.ts";
import { SimHarness } from "../../src/sim/harness.ts";
import { memoryAfterGc } from "../reliability/helpers.ts";
import { toneFrames, waitFor } from "../sim/voice-test-kit.ts";

/**
 * People come and go in a long-lived channel: each who speaks gets a decoder, a resampler and a
 * mix queue, and each who leaves must take them along. 1,000 users join, speak and leave; /status
 * counts only who is there, and the conversation's memory returns to where it was.
 */

const USERS = 1_000;
const BATCH = 50;
const FRAMES_EACH = 3;

let harness: SimHarness | undefined;
afterAll(async () => harness?.close());

describe("speakers who leave are forgotten", () => {
  it(`${USERS} users join, speak and leave: /status counts those present, memory returns to baseline`, async () => {
    // Without DAVE: 1,000 members would be 1,000 epoch changes, a different test
    // (test/conversation/dave.test.ts churns the group); this one is about what the bot keeps.
    const h = await SimHarness.start({ recordAudio: false, dave: false });
    harness = h;
    const guild = await h.join();
    const speech = encodeOpusStream(toneFrames(440, FRAMES_EACH));
    const speakers = () => guild.status()?.speakers ?? -1;

    const batch = async (): Promise<void> => {
      const users: string[] = [];
      for (let i = 0; i < BATCH; i++) users.push(await guild.addUser());
      // Each join is a DAVE epoch change: speak once the group has settled with everyone in it.
      await waitFor(
        () => users.every((userId) => h.voice.daveSettled(guild.guildId, userId)),
        "the DAVE group",
        10_000,
      );
      for (const userId of users)
        await h.voice.speakAs(guild.guildId, userId, { opus: speech }, { paced: false });
      await waitFor(() => speakers() === BATCH, `${BATCH} speakers heard (now ${speakers()})`, 10_000);
      for (const userId of users) h.voice.removeUser(guild.guildId, userId);
      await waitFor(() => speakers() === 0, `every speaker forgotten (still ${speakers()})`, 10_000);
    };

    await batch();
    const baseline = memoryAfterGc();
    for (let done = BATCH; done < USERS; done += BATCH) await batch();
    const after = memoryAfterGc();
    const growthMiB = (after.heapUsed - baseline.heapUsed) / 2 ** 20;
    console.info(
      `speaker churn: ${USERS} users, heap ${(baseline.heapUsed / 2 ** 20).toFixed(1)} -> ${(after.heapUsed / 2 ** 20).toFixed(1)} MiB`,
    );
    expect(speakers()).toBe(0);
    expect(guild.active).toBe(true);
    // A leak of one decoder/resampler/queue set per user would be tens of MiB at 1,000 users.
    expect(growthMiB).toBeLessThan(4);
  }, 180_000);
});
