import { createSocket, type Socket } from "node:dgram";
import { describe, expect, it } from "vitest";
import { FRAME_SAMPLES_24K } from "../../src/audio/constants.ts";
import { encodeOpusStream } from "../../src/audio/opus-stream.ts";
import type { LoopbackVoiceServer } from "../../src/sim/voice-server.ts";
import { SpeakerReceiver } from "../../src/voice/speaker-receiver.ts";
import {
  atInputRate,
  bestFrameCorrelation,
  decodeToMono,
  joined,
  sleep,
  speechFrames,
  takeFrame,
  waitFor,
} from "../sim/voice-test-kit.ts";
import { useTestBed } from "../voice/testbed.ts";
import {
  MiB,
  memoryAfterGc,
  mib,
  Rng,
  scaled,
  seedFromEnv,
  trapProcessErrors,
  yieldToIo,
} from "./helpers.ts";
import { RtpFuzzer } from "./rtp-packets.ts";

/**
 * Mutated RTP/Opus into the receive path: the real @discordjs/voice connection joined to the
 * loopback voice server, and SpeakerReceiver decoding with OpusFrameDecoder. Afterwards the same
 * speaker is still heard, cleanly, and memory did not grow with the number of packets.
 */

const SEED = seedFromEnv(0x5eed_0a7b);
const PACKETS = scaled(5_000, 100_000);
/** Packets, or bytes, sent before the loop yields so the receiving socket drains. */
const BATCH_PACKETS = 64;
const BATCH_BYTES = 96 * 1024;
const HEAP_BOUND = 8 * MiB;
const ARRAY_BUFFER_BOUND = 8 * MiB;
const ALICE = "200000000000000002";

const bed = useTestBed();

interface SessionSecrets {
  readonly key: Buffer;
  readonly address: string;
  readonly port: number;
}

/** The bot's UDP address (its Select Protocol) and the session key (the Session Description). */
function sessionSecrets(server: LoopbackVoiceServer, guildId: string): SessionSecrets {
  let key: Buffer | undefined;
  let remote: { address: string; port: number } | undefined;
  for (const entry of server.opLog) {
    if (entry.guildId !== guildId) continue;
    const d = entry.d as { secret_key?: number[]; data?: { address: string; port: number } } | null;
    if (entry.direction === "out" && entry.op === 4 && d?.secret_key !== undefined)
      key = Buffer.from(d.secret_key);
    if (entry.direction === "in" && entry.op === 1 && d?.data !== undefined) remote = d.data;
  }
  if (key === undefined || remote === undefined) throw new Error("no voice session in the op log");
  return { key, ...remote };
}

function send(socket: Socket, datagram: Buffer, to: SessionSecrets): Promise<void> {
  return new Promise((resolve) => socket.send(datagram, to.port, to.address, () => resolve()));
}

describe("runt datagrams", () => {
  it("a 9 to 11 byte datagram from anyone is ignored, not thrown out of the UDP socket", async () => {
    const trap = trapProcessErrors();
    const raw = createSocket("udp4");
    bed.cleanup(() => raw.close());
    try {
      await new Promise<void>((resolve) => raw.bind(0, "127.0.0.1", resolve));
      const managed = bed.join();
      await managed.ready();
      bed.server.addUser(managed.guildId, ALICE);
      await waitFor(() => managed.connection.receiver.ssrcMap.get(ALICE) !== undefined, "Alice's SSRC");
      const to = sessionSecrets(bed.server, managed.guildId);
      for (let length = 0; length <= 12; length++) await send(raw, Buffer.alloc(length, 0x80), to);
      await sleep(100);
      expect(trap.errors).toEqual([]);
      expect(managed.isReady).toBe(true);
    } finally {
      trap.dispose();
    }
  });
});

describe(`RTP/Opus receive fuzz (SEED=${SEED}, ${PACKETS} packets)`, () => {
  it(
    "keeps hearing the speaker through mutated, forged and runt packets, with flat memory",
    async () => {
      const trap = trapProcessErrors();
      const raw = createSocket("udp4");
      bed.cleanup(() => raw.close());
      try {
        await new Promise<void>((resolve) => raw.bind(0, "127.0.0.1", resolve));
        const managed = bed.join();
        await managed.ready();
        const guildId = managed.guildId;
        const { ssrc } = bed.server.addUser(guildId, ALICE);
        await waitFor(() => managed.connection.receiver.ssrcMap.get(ALICE) !== undefined, "Alice's SSRC");

        let frames = 0;
        let recording: Int16Array[] | undefined;
        const receiver = new SpeakerReceiver({
          receiver: managed.connection.receiver,
          isAllowed: () => true,
          inputRate: 24_000,
          onFrame: (speaker) => {
            frames++;
            const frame = takeFrame(speaker);
            recording?.push(frame);
          },
        });
        bed.cleanup(() => receiver.close());

        const speech = encodeOpusStream(speechFrames("speech-weather-question.wav", 100));
        const fuzzer = new RtpFuzzer(new Rng(SEED), sessionSecrets(bed.server, guildId).key, ssrc, speech);
        const to = sessionSecrets(bed.server, guildId);
        const where = (sent: number): string =>
          `SEED=${SEED}, after ${sent} packets (${JSON.stringify(Object.fromEntries(fuzzer.kinds))})`;

        let warm: ReturnType<typeof memoryAfterGc> | undefined;
        let sent = 0;
        while (sent < PACKETS) {
          let bytes = 0;
          const writes: Promise<unknown>[] = [];
          for (let i = 0; i < BATCH_PACKETS && bytes < BATCH_BYTES && sent < PACKETS; i++, sent++) {
            const packet = fuzzer.next();
            if ("opus" in packet) {
              writes.push(bed.server.speakAs(guildId, ALICE, { opus: [packet.opus] }, { paced: false }));
              bytes += packet.opus.length;
            } else if ("datagram" in packet) {
              writes.push(send(raw, packet.datagram, to));
              bytes += packet.datagram.length;
            } else {
              bed.server.sendCorruptPacket(guildId, ALICE);
            }
          }
          await Promise.all(writes);
          await yieldToIo();
          await yieldToIo();
          if (warm === undefined && sent >= PACKETS / 10) warm = memoryAfterGc();
        }
        await sleep(200); // the storm's last datagrams land, the speaking timeout passes
        expect(trap.errors, where(sent)).toEqual([]);
        expect(managed.isReady, where(sent)).toBe(true);
        const [stats] = receiver.stats();
        expect(stats?.decodeErrors, "undecodable payloads reached the decoder").toBeGreaterThan(0);
        expect(stats?.streamErrors, "unauthenticated packets reached the library").toBeGreaterThan(0);

        // Valid speech after the storm is still heard, and heard cleanly.
        const heardBefore = frames;
        recording = [];
        const after = speech.slice(0, 50);
        await bed.server.speakAs(guildId, ALICE, { opus: after }, { paced: false });
        await waitFor(
          () => recording !== undefined && recording.length >= after.length,
          "the speech after the storm",
        );
        const heard = joined(recording);
        const expected = atInputRate(decodeToMono(after));
        // The decoder's state carries garbage for a frame or two; compare once it has settled.
        const settled = 5 * FRAME_SAMPLES_24K;
        expect(
          bestFrameCorrelation(heard.subarray(settled), expected.subarray(settled), 0, FRAME_SAMPLES_24K),
          where(sent),
        ).toBeGreaterThan(0.99);
        expect(frames - heardBefore).toBe(after.length);

        const end = memoryAfterGc();
        if (warm === undefined) throw new Error("no warm-up measurement");
        console.info(
          `rtp fuzz SEED=${SEED}: ${PACKETS} packets, ${heardBefore} frames decoded, ` +
            `stats ${JSON.stringify(stats)}, heap ${mib(warm.heapUsed)} -> ${mib(end.heapUsed)}, ` +
            `arrayBuffers ${mib(warm.arrayBuffers)} -> ${mib(end.arrayBuffers)}, rss ${mib(warm.rss)} -> ${mib(end.rss)}`,
        );
        expect(end.heapUsed - warm.heapUsed, `${where(sent)}: heap growth`).toBeLessThan(HEAP_BOUND);
        expect(end.arrayBuffers - warm.arrayBuffers, `${where(sent)}: array buffer growth`).toBeLessThan(
          ARRAY_BUFFER_BOUND,
        );
        expect(trap.errors).toEqual([]);
      } finally {
        trap.dispose();
      }
    },
    scaled(60_000, 900_000),
  );
});
