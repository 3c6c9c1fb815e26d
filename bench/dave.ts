import { readFileSync } from "node:fs";
import davey from "@snazzah/davey";
import { OpusFrameDecoder } from "../src/audio/opus.ts";
import { encodeMonoSignal } from "../src/audio/opus-stream.ts";
import { readWav } from "../src/audio/wav.ts";
import { appendProposals, ExternalSender, snowflakeBytes } from "../src/sim/dave/mls.ts";
import { medianMicroseconds, round } from "./measure.ts";
import type { BenchSection, Figures } from "./section.ts";

/*
 * What DAVE adds per 20 ms frame: davey's encryptOpus on the sending side and decrypt on the
 * receiving side, on real speech Opus packets, in a two-member group built the way the loopback
 * gateway builds it (external Add proposal, commit, welcome). Compared with an Opus decode, the
 * bot's other per-frame cost on the receive path.
 */

const BOT = "100000000000000001";
const USER = "200000000000000002";
const CHANNEL = "300000000000000003";
const MEDIA_AUDIO = 0;

function speechPackets(): Buffer[] {
  const url = new URL("../test/fixtures/speech-weather-question.wav", import.meta.url);
  return encodeMonoSignal(readWav(readFileSync(url)).samples);
}

function group(): { sender: davey.DAVESession; receiver: davey.DAVESession } {
  const external = new ExternalSender();
  const sender = new davey.DAVESession(1, USER, CHANNEL);
  const receiver = new davey.DAVESession(1, BOT, CHANNEL);
  sender.setExternalSender(external.package);
  receiver.setExternalSender(external.package);
  receiver.getSerializedKeyPackage();
  const add = external.addProposal(snowflakeBytes(CHANNEL), 0n, sender.getSerializedKeyPackage());
  const { commit, welcome } = receiver.processProposals(0, appendProposals([add]).subarray(1), [USER]);
  if (commit === undefined || welcome === undefined) throw new Error("no commit for the bench group");
  receiver.processCommit(commit);
  sender.processWelcome(welcome);
  return { sender, receiver };
}

export const section: BenchSection = {
  description: "DAVE per-frame cost: davey encrypt and decrypt of speech Opus packets",
  targets: [{ figure: "encryptPlusDecryptPerFrameUs", atMost: 100 }],
  async run(): Promise<Figures> {
    const packets = speechPackets();
    const { sender, receiver } = group();
    const pick = (i: number): Buffer => packets[i % packets.length]!;
    const encrypted = packets.map((packet) => sender.encryptOpus(packet));
    const encryptUs = medianMicroseconds((i) => sender.encryptOpus(pick(i)));
    // Each frame decrypted once, in order, as a receiver sees them (a replay would be refused).
    const fresh: Buffer[] = [];
    for (let i = 0; i < 4_000; i++) fresh.push(sender.encryptOpus(pick(i)));
    let next = 0;
    const decryptUs = medianMicroseconds(() => receiver.decrypt(USER, MEDIA_AUDIO, fresh[next++]!), {
      warmupCalls: 500,
      batches: 41,
      callsPerBatch: 50,
    });
    const decoder = new OpusFrameDecoder();
    const opusDecodeUs = medianMicroseconds((i) => decoder.decode(pick(i)));
    decoder.destroy();
    const overhead = encrypted.reduce((sum, frame, i) => sum + frame.length - packets[i]!.length, 0);
    sender.reset();
    receiver.reset();
    return {
      encryptPerFrameUs: round(encryptUs, 2),
      decryptPerFrameUs: round(decryptUs, 2),
      encryptPlusDecryptPerFrameUs: round(encryptUs + decryptUs, 2),
      opusDecodePerFrameUs: round(opusDecodeUs, 2),
      bytesAddedPerFrame: round(overhead / packets.length, 1),
      medianOpusPacketBytes: packets.map((p) => p.length).sort((a, b) => a - b)[packets.length >> 1]!,
    };
  },
};
