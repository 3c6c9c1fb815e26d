import { afterEach, describe, expect, it } from "vitest";
import { encodeOpusStream } from "../../src/audio/opus-stream.ts";
import { buildSessionConfig } from "../../src/bridge/persona-session.ts";
import { type LocalVoiceLiveServer, startLocalVoiceLiveServer } from "../../src/local/server.ts";
import { defaultPersona } from "../../src/persona.ts";
import { base64Length } from "../../src/voicelive/pcm-base64.ts";
import { ConnectionRateLimiter } from "../../src/voicelive/rate-limiter.ts";
import { VoiceLiveSession } from "../../src/voicelive/session.ts";
import { speechFrames, waitFor } from "../sim/voice-test-kit.ts";
import {
  errorCapturingLogger,
  MiB,
  memoryAfterGc,
  mib,
  scaled,
  trapProcessErrors,
  yieldToIo,
} from "./helpers.ts";
import { type Rig, rigAzure, startRig, USER_ID } from "./rig.ts";

/**
 * A Voice Live server that stops reading: TCP backpressure builds up in the bot. The client's send
 * queue must stay under its cap (one second of audio as base64, the oldest audio dropped and
 * counted), memory must not follow the amount of audio offered, and the session must work again
 * once the server reads.
 */

/** Audio offered unpaced to a stalled session: far more than loopback TCP buffers absorb. */
const STALLED_AUDIO_MS = scaled(15, 120) * 60_000;
/** Real-time speech into a full conversation while stalled (full: past the 60 s dead-socket ping). */
const STALLED_SPEECH_MS = scaled(4_000, 90_000);
const FRAME_SAMPLES_24K = 480;
/** The client's send limit: one second of 24 kHz PCM16 as base64. */
const SEND_LIMIT_BYTES = base64Length(48_000);
const APPEND_FRAME_BYTES = base64Length(FRAME_SAMPLES_24K * 2) + 64;
/** Kernel socket buffers on loopback hold at most a few MiB: well under 5 minutes of base64 audio. */
const KERNEL_ALLOWANCE_MS = 5 * 60_000;
const HEAP_BOUND = 16 * MiB;

let local: LocalVoiceLiveServer | undefined;
let session: VoiceLiveSession | undefined;
let rig: Rig | undefined;

afterEach(async () => {
  await session?.close();
  await local?.close();
  await rig?.close();
  session = undefined;
  local = undefined;
  rig = undefined;
});

function tone24k(frames: number): Int16Array[] {
  return Array.from({ length: frames }, (_, f) => {
    const frame = new Int16Array(FRAME_SAMPLES_24K);
    for (let i = 0; i < FRAME_SAMPLES_24K; i++) {
      frame[i] = Math.round(8_000 * Math.sin((2 * Math.PI * 440 * (f * FRAME_SAMPLES_24K + i)) / 24_000));
    }
    return frame;
  });
}

describe("a Voice Live server that stops reading", () => {
  it(
    `holds the send queue at its cap through ${STALLED_AUDIO_MS / 60_000} min of unpaced audio, then works again`,
    async () => {
      const trap = trapProcessErrors();
      try {
        const captured = errorCapturingLogger();
        local = await startLocalVoiceLiveServer({
          apiKey: "stall-test-key-0123456",
          speed: 20,
          logger: captured.logger,
        });
        const built = buildSessionConfig({
          // A session without a bridge: the service answers each turn by itself.
          ...defaultPersona({ instructions: "Be brief.", voice: "alloy" }),
          turnTaking: "service",
        });
        if (!built.ok) throw new Error(built.problems.join("; "));
        session = new VoiceLiveSession({
          azure: rigAzure(local.url, "stall-test-key-0123456"),
          session: built.config,
          limiter: new ConnectionRateLimiter(10_000),
          pingIntervalMs: 0,
          logger: captured.logger,
        });
        const live = session;
        expect((await live.start()).ok).toBe(true);
        const silence = new Int16Array(FRAME_SAMPLES_24K);
        const before = memoryAfterGc();
        local.stallReading(true);

        let maxQueued = 0;
        const frames = STALLED_AUDIO_MS / 20;
        for (let i = 0; i < frames; i++) {
          live.appendAudio(silence);
          if (live.queuedBytes > maxQueued) maxQueued = live.queuedBytes;
          if (i % 500 === 0) await yieldToIo();
        }
        const during = memoryAfterGc();
        const dropped = live.droppedAudioMs;
        console.info(
          `stalled server: ${STALLED_AUDIO_MS / 1000} s offered, ${Math.round(dropped / 1000)} s dropped, ` +
            `${Math.round((STALLED_AUDIO_MS - dropped) / 1000)} s sent or held, queue max ${maxQueued} B ` +
            `(cap ${SEND_LIMIT_BYTES} B), heap ${mib(before.heapUsed)} -> ${mib(during.heapUsed)}, ` +
            `rss ${mib(before.rss)} -> ${mib(during.rss)}`,
        );
        expect(maxQueued).toBeLessThanOrEqual(SEND_LIMIT_BYTES + APPEND_FRAME_BYTES);
        expect(dropped).toBeGreaterThan(STALLED_AUDIO_MS - KERNEL_ALLOWANCE_MS);
        expect(during.heapUsed - before.heapUsed).toBeLessThan(HEAP_BOUND);
        expect(live.state).toBe("ready");

        // Reading again: the backlog drains, and a new utterance is heard and answered.
        local.stallReading(false);
        await waitFor(() => live.queuedBytes === 0, "the queue to drain", 10_000);
        let speechStarted = 0;
        let answerChunks = 0;
        live.on("input_audio_buffer.speech_started", () => speechStarted++);
        live.on("response.audio.delta", () => answerChunks++);
        for (const frame of [...tone24k(25), ...Array.from({ length: 50 }, () => silence)])
          live.appendAudio(frame);
        await waitFor(() => speechStarted > 0 && answerChunks > 0, "an answer after the stall", 10_000);
        expect(live.connections).toBe(1);
        expect(captured.errors).toEqual([]);
        expect(trap.errors).toEqual([]);
      } finally {
        trap.dispose();
      }
    },
    scaled(30_000, 300_000),
  );

  it(
    `keeps a conversation bounded while a user talks ${STALLED_SPEECH_MS / 1000} s into a stalled server, and answers after`,
    async () => {
      const trap = trapProcessErrors();
      try {
        const captured = errorCapturingLogger();
        rig = await startRig({ logger: captured.logger });
        const r = rig;
        await r.join();
        expect(await r.turn()).toBe(true);
        await r.quiet();

        const long = encodeOpusStream([
          ...speechFrames("speech-weather-question.wav", 300),
          ...speechFrames("speech-meeting-summary.wav", 300),
          ...speechFrames("speech-interruption.wav", 300),
        ]);
        const before = memoryAfterGc();
        r.local.stallReading(true);
        const states = new Set<string>();
        const watch = setInterval(() => states.add(r.status()?.voiceLive ?? "gone"), 100);
        try {
          for (let spoken = 0; spoken < STALLED_SPEECH_MS; spoken += long.length * 20) {
            const frames = long.slice(0, Math.min(long.length, (STALLED_SPEECH_MS - spoken) / 20));
            await r.voice.speakAs(r.guildId, USER_ID, { opus: frames });
          }
        } finally {
          clearInterval(watch);
        }
        const during = memoryAfterGc();
        console.info(
          `stalled conversation: ${STALLED_SPEECH_MS / 1000} s spoken, Voice Live states ${[...states].join(", ")}, ` +
            `heap ${mib(before.heapUsed)} -> ${mib(during.heapUsed)}, rss ${mib(before.rss)} -> ${mib(during.rss)}`,
        );
        expect(states.has("failed")).toBe(false);
        expect(during.heapUsed - before.heapUsed).toBeLessThan(HEAP_BOUND);

        r.local.stallReading(false);
        let answered = false;
        for (let attempt = 0; attempt < 3 && !answered; attempt++) {
          await waitFor(r.bothReady, "ready after the stall", 20_000);
          await r.quiet();
          answered = await r.turn();
        }
        expect(answered).toBe(true);
        expect(captured.errors).toEqual([]);
        expect(trap.errors).toEqual([]);
      } finally {
        trap.dispose();
      }
    },
    scaled(30_000, 300_000),
  );
});
