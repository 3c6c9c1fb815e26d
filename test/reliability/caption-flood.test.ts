import { afterEach, describe, expect, it } from "vitest";
import { type FakeService, startFakeService, testAzure } from "../voicelive/fake-service.ts";
import { errorCapturingLogger, MiB, memoryAfterGc, mib } from "./helpers.ts";
import { type Rig, startRig } from "./rig.ts";

/**
 * Found by the Voice Live fuzz at full size (heap +32 MiB over 100k frames, none without captions):
 * captions are written through CaptionWriter, which spaces Discord calls 1.1 s apart on one promise
 * chain and never drops a queued post, so a burst of turns queues without bound; each queued caption
 * is a slice of the whole transcript, and V8 keeps the whole parent string alive behind a slice.
 * 200 turns with 100 kB transcripts hold about 20 MiB for the 220 s the queue takes to drain.
 *
 * Fixed by bounding CaptionWriter's queue of posts and detaching each caption's text from the
 * transcript it was cut from (src/conversation/captions.ts).
 */

const TURNS = 200;
const TRANSCRIPT_CHARS = 100_000;
const HEAP_BOUND = 8 * MiB;

let service: FakeService | undefined;
let rig: Rig | undefined;

afterEach(async () => {
  await rig?.close();
  await service?.close();
  rig = undefined;
  service = undefined;
});

describe("captions under a burst of turns", () => {
  it(`hold bounded memory for ${TURNS} turns with ${TRANSCRIPT_CHARS / 1000} kB transcripts`, async () => {
    const fake = await startFakeService();
    service = fake;
    const captured = errorCapturingLogger();
    const connecting = fake.nextConnection();
    rig = await startRig({ logger: captured.logger, captions: true, azure: () => testAzure(fake.endpoint) });
    await rig.join();
    const connection = await connecting;
    const before = memoryAfterGc();
    for (let turn = 0; turn < TURNS; turn++) {
      const itemId = `item_user_${turn}`;
      connection.send({
        type: "input_audio_buffer.speech_started",
        audio_start_ms: turn * 1000,
        item_id: itemId,
      });
      connection.send({
        type: "conversation.item.input_audio_transcription.completed",
        item_id: itemId,
        content_index: 0,
        transcript: `${turn} ${"y".repeat(TRANSCRIPT_CHARS)}`,
      });
    }
    await new Promise<void>((resolve) => {
      connection.ws.once("pong", () => resolve());
      connection.ws.ping();
    });
    const after = memoryAfterGc();
    console.info(
      `caption flood: ${TURNS} turns, ${rig.captions.length} captions posted so far, heap ${mib(before.heapUsed)} -> ${mib(after.heapUsed)}`,
    );
    expect(after.heapUsed - before.heapUsed).toBeLessThan(HEAP_BOUND);
  }, 30_000);
});
