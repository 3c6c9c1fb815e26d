import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "../sim/voice-test-kit.ts";
import {
  type FakeConnection,
  type FakeService,
  startFakeService,
  testAzure,
} from "../voicelive/fake-service.ts";
import {
  errorCapturingLogger,
  MiB,
  memoryAfterGc,
  mib,
  Rng,
  scaled,
  seedFromEnv,
  trapProcessErrors,
  yieldToIo,
} from "./helpers.ts";
import { type Rig, startRig } from "./rig.ts";
import { FrameFuzzer } from "./voicelive-frames.ts";

/**
 * Random and mutated server frames, sent by a real `ws` server on loopback into a real
 * VoiceLiveClient/VoiceLiveSession inside a running Conversation (so its event handlers, barge-in,
 * playback and captions are fuzzed too). Afterwards the socket is the same one, a normal answer is
 * still played into the channel, and the heap did not grow with the number of frames.
 */

const SEED = seedFromEnv(0x5eed_f022);
const FRAMES = scaled(5_000, 100_000);
const BATCH = 200;
/** Heap growth allowed between warm-up and the end (a leak of 100 bytes per frame breaks it at full size). */
const HEAP_BOUND = 16 * MiB;
/** Typed-array memory: the playback buffer may legitimately hold minutes of fuzzed audio. */
const ARRAY_BUFFER_BOUND = 48 * MiB;

let service: FakeService | undefined;
let rig: Rig | undefined;

afterEach(async () => {
  await rig?.close();
  await service?.close();
  rig = undefined;
  service = undefined;
});

/** Resolves once the client has handled every frame sent before: ws answers pings in order. */
function barrier(connection: FakeConnection, timeoutMs = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      connection.ws.off("pong", onPong);
      reject(new Error(`the client did not answer a ping within ${timeoutMs} ms`));
    }, timeoutMs);
    const onPong = (): void => {
      clearTimeout(timer);
      resolve();
    };
    connection.ws.once("pong", onPong);
    connection.ws.ping();
  });
}

describe(`Voice Live server frame fuzz (SEED=${SEED}, ${FRAMES} frames)`, () => {
  it(
    "survives every frame, keeps its socket, still answers, and holds its memory",
    async () => {
      const trap = trapProcessErrors();
      try {
        const rng = new Rng(SEED);
        const fuzzer = new FrameFuzzer(rng, { hugeChars: scaled(300_000, 1_000_000) });
        const captured = errorCapturingLogger();
        const fake = await startFakeService();
        service = fake;
        const r = await startRig({
          logger: captured.logger,
          captions: true,
          azure: () => testAzure(fake.endpoint),
        });
        rig = r;
        const connecting = fake.nextConnection();
        await r.join();
        const connection = await connecting;
        const where = (sent: number): string =>
          `SEED=${SEED}, after ${sent} frames (${JSON.stringify(Object.fromEntries(fuzzer.kinds))})`;

        let sent = 0;
        let warm: ReturnType<typeof memoryAfterGc> | undefined;
        const warmUpFrames = Math.min(FRAMES / 10, 10_000);
        while (sent < FRAMES) {
          for (let i = 0; i < BATCH && sent < FRAMES; i++, sent++) {
            const frame = fuzzer.next();
            connection.ws.send(frame.data, { binary: frame.binary });
          }
          await barrier(connection);
          await yieldToIo();
          expect(r.status()?.voiceLive, where(sent)).toBe("ready");
          expect(captured.errors, where(sent)).toEqual([]);
          if (warm === undefined && sent >= warmUpFrames) warm = memoryAfterGc();
        }
        expect(trap.errors, where(sent)).toEqual([]);
        expect(fake.connections, `${where(sent)}: a bad frame must not cost the socket`).toHaveLength(1);

        // A normal turn still works: barge-in clears whatever fuzzed audio is queued, then an answer plays.
        const final = (event: object): void => connection.send({ event_id: "final", ...event });
        const scoped = {
          response_id: "resp_final",
          item_id: "item_final",
          output_index: 0,
          content_index: 0,
        };
        final({ type: "input_audio_buffer.speech_started", audio_start_ms: 0, item_id: "item_user" });
        final({ type: "input_audio_buffer.speech_stopped", audio_end_ms: 900, item_id: "item_user" });
        final({
          type: "response.created",
          response: { id: "resp_final", status: "in_progress", output: [] },
        });
        const assistant = {
          type: "message",
          id: "item_final",
          role: "assistant",
          status: "in_progress",
          content: [],
        };
        final({
          type: "response.output_item.added",
          response_id: "resp_final",
          output_index: 0,
          item: assistant,
        });
        for (let i = 0; i < 25; i++) {
          final({ type: "response.audio.delta", ...scoped, delta: toneBase64(40, i) });
        }
        final({ type: "response.audio.done", ...scoped });
        final({ type: "response.done", response: { id: "resp_final", status: "completed", output: [] } });
        const before = r.botPackets;
        await barrier(connection);
        // 1 s of answer: most of its 50 frames reach the channel (barge-in may eat one in flight).
        await waitFor(() => r.botPackets - before >= 45, "the final answer's audio in the channel", 10_000);

        const end = memoryAfterGc();
        if (warm === undefined) throw new Error("no warm-up measurement");
        const heapGrowth = end.heapUsed - warm.heapUsed;
        const bufferGrowth = end.arrayBuffers - warm.arrayBuffers;
        console.info(
          `voicelive fuzz SEED=${SEED}: ${FRAMES} frames, heap ${mib(warm.heapUsed)} -> ${mib(end.heapUsed)}, ` +
            `arrayBuffers ${mib(warm.arrayBuffers)} -> ${mib(end.arrayBuffers)}, ${captured.counts.lines} log lines, ` +
            `${r.captions.length} captions, ${r.notices.length} notices, kinds ${JSON.stringify(Object.fromEntries(fuzzer.kinds))}`,
        );
        expect(heapGrowth, `${where(sent)}: heap growth`).toBeLessThan(HEAP_BOUND);
        expect(bufferGrowth, `${where(sent)}: array buffer growth`).toBeLessThan(ARRAY_BUFFER_BOUND);
        expect(trap.errors).toEqual([]);
      } finally {
        trap.dispose();
      }
    },
    scaled(60_000, 900_000),
  );
});

/** `ms` of a 440 Hz tone at 24 kHz, loud enough to be far from Opus silence. */
function toneBase64(ms: number, chunk: number): string {
  const samples = ms * 24;
  const pcm = new Int16Array(samples);
  for (let i = 0; i < samples; i++) {
    pcm[i] = Math.round(8_000 * Math.sin((2 * Math.PI * 440 * (chunk * samples + i)) / 24_000));
  }
  return Buffer.from(pcm.buffer).toString("base64");
}
