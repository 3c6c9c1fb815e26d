import { createCipheriv } from "node:crypto";
import type { Rng } from "./helpers.ts";

/**
 * Hostile voice datagrams for the RTP fuzz suite. Two families:
 * - Opus payloads the loopback server seals properly (the receive path must decode or reject them):
 *   random bytes, truncated or bit-flipped speech, oversize, 40/60/120 ms TOCs, empty;
 * - raw datagrams sent straight to the bot's UDP port: runts, wrong versions, payload types and
 *   SSRCs, broken tags, and packets sealed with the session key around headers the server would
 *   never send (padding, odd extensions), so they pass authentication and reach the parser.
 */

export type Fuzzed =
  | { readonly kind: string; readonly opus: Buffer }
  | { readonly kind: string; readonly datagram: Buffer }
  | { readonly kind: "corrupt-tag" };

const OPUS_PAYLOAD_TYPE = 120;
const NONCE_BYTES = 4;
/** The largest UDP payload over IPv4, less the sealed packet's overhead. */
const MAX_DATAGRAM = 65_507;

export class RtpFuzzer {
  readonly #rng: Rng;
  readonly #key: Buffer;
  readonly #ssrc: number;
  readonly #speech: readonly Buffer[];
  readonly #kinds = new Map<string, number>();
  #sequence = 0;
  #nonce = 0x4000_0000;

  /** `key` is the session's secret key, `ssrc` the speaking user's, `speech` valid Opus packets. */
  constructor(rng: Rng, key: Buffer, ssrc: number, speech: readonly Buffer[]) {
    this.#rng = rng;
    this.#key = key;
    this.#ssrc = ssrc;
    this.#speech = speech;
  }

  get kinds(): ReadonlyMap<string, number> {
    return this.#kinds;
  }

  next(): Fuzzed {
    const rng = this.#rng;
    const made = rng.weighted<() => Fuzzed>([
      [12, () => this.#opus("random-opus", rng.bytes(rng.range(1, 1275)))],
      [8, () => this.#opus("valid-opus", this.#speechPacket())],
      [
        6,
        () =>
          this.#opus(
            "truncated-opus",
            this.#speechPacket().subarray(0, rng.int(this.#speechPacket().length)),
          ),
      ],
      [6, () => this.#opus("flipped-opus", this.#flipped(this.#speechPacket()))],
      [4, () => this.#opus("long-toc", this.#longToc())],
      [
        3,
        () =>
          this.#opus(
            "huge-opus",
            rng.bytes(rng.chance(0.9) ? rng.range(1276, 4000) : rng.range(20_000, 60_000)),
          ),
      ],
      [3, () => this.#opus("empty-opus", Buffer.alloc(0))],
      [4, () => ({ kind: "corrupt-tag" })],
      [6, () => this.#raw("runt", rng.bytes(rng.range(0, 11)))],
      [5, () => this.#raw("random-datagram", this.#randomRtp())],
      [5, () => this.#raw("bad-version-or-type", this.#badHeader())],
      [
        5,
        () =>
          this.#raw("wrong-ssrc", this.#seal(this.#header({ ssrc: rng.int(2 ** 32) }), this.#speechPacket())),
      ],
      [5, () => this.#raw("mutated-header", this.#mutatedHeader())],
      [4, () => this.#raw("short-for-tag", this.#header({}).subarray(0, 12 + rng.int(4)))],
      [5, () => this.#raw("sealed-padding", this.#padded())],
      [5, () => this.#raw("sealed-extension", this.#oddExtension())],
      [
        4,
        () =>
          this.#raw(
            "sealed-no-extension",
            this.#seal(this.#header({ extension: false }), this.#speechPacket()),
          ),
      ],
    ])();
    this.#kinds.set(made.kind, (this.#kinds.get(made.kind) ?? 0) + 1);
    return made;
  }

  #opus(kind: string, opus: Buffer): Fuzzed {
    return { kind, opus };
  }

  #raw(kind: string, datagram: Buffer): Fuzzed {
    return { kind, datagram: datagram.subarray(0, MAX_DATAGRAM) };
  }

  #speechPacket(): Buffer {
    return this.#rng.pick(this.#speech);
  }

  #flipped(packet: Buffer): Buffer {
    const out = Buffer.from(packet);
    for (let n = this.#rng.range(1, 6); n > 0 && out.length > 0; n--)
      out[this.#rng.int(out.length)]! ^= 1 << this.#rng.int(8);
    return out;
  }

  /** TOC bytes of 40, 60 and 120 ms packets (RFC 6716 3.1), the rest random. */
  #longToc(): Buffer {
    const rng = this.#rng;
    const body = rng.bytes(rng.range(0, 400));
    const toc = rng.pick([
      [(3 << 3) | 0], // SILK 60 ms, one frame
      [(11 << 3) | 0],
      [(2 << 3) | 0], // SILK 40 ms
      [(3 << 3) | 1], // two 60 ms frames: 120 ms
      [(19 << 3) | 3, 6], // CELT 20 ms x 6 = 120 ms
      [(15 << 3) | 3, 0x80 | 6], // hybrid 20 ms x 6, VBR flag
      [(1 << 3) | 3, 48], // 48 frames of 20 ms: past the 120 ms limit
      [(31 << 3) | 3], // code 3 without its count byte
    ]);
    return Buffer.concat([Buffer.from(toc), body]);
  }

  #header(options: { ssrc?: number; extension?: boolean; first?: number; payloadType?: number }): Buffer {
    const extension = options.extension ?? true;
    const header = Buffer.alloc(extension ? 16 : 12);
    header[0] = options.first ?? (extension ? 0x90 : 0x80);
    header[1] = options.payloadType ?? OPUS_PAYLOAD_TYPE;
    header.writeUInt16BE(this.#sequence++ & 0xffff, 2);
    header.writeUInt32BE((this.#sequence * 960) >>> 0, 4);
    header.writeUInt32BE((options.ssrc ?? this.#ssrc) >>> 0, 8);
    if (extension) {
      header[12] = 0xbe;
      header[13] = 0xde;
      header.writeUInt16BE(1, 14);
    }
    return header;
  }

  /**
   * AES-256-GCM the way @discordjs/voice opens `aead_aes256_gcm_rtpsize`: the header (12 bytes, 16
   * with the X bit) is authenticated, the rest encrypted, then tag and a 4-byte nonce suffix.
   * With the extension profile, the first 4 * length bytes of plaintext are extension elements.
   */
  #seal(header: Buffer, opus: Buffer, extensionBytes = header.length === 16 ? 4 : 0): Buffer {
    const iv = Buffer.alloc(12);
    this.#nonce = (this.#nonce + 1) >>> 0;
    iv.writeUInt32BE(this.#nonce, 0);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    const authenticated = (header[0]! & 0x10) !== 0 ? 16 : 12;
    cipher.setAAD(header.subarray(0, authenticated));
    const plain = Buffer.concat([header.subarray(authenticated), Buffer.alloc(extensionBytes), opus]);
    const sealed = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([
      header.subarray(0, authenticated),
      sealed,
      cipher.getAuthTag(),
      iv.subarray(0, NONCE_BYTES),
    ]);
  }

  #randomRtp(): Buffer {
    const rng = this.#rng;
    const datagram = rng.bytes(rng.range(12, 1_500));
    datagram[0] = 0x80 | (rng.int(2) << 4);
    datagram[1] = OPUS_PAYLOAD_TYPE;
    datagram.writeUInt32BE(this.#ssrc, 8);
    return datagram;
  }

  #badHeader(): Buffer {
    const rng = this.#rng;
    const first = rng.pick([0x00, 0x40, 0xc0, 0x10, 0x50]);
    return this.#seal(
      this.#header({ first, payloadType: rng.chance(0.5) ? rng.int(128) : OPUS_PAYLOAD_TYPE | 0x80 }),
      this.#speechPacket(),
    );
  }

  #mutatedHeader(): Buffer {
    const datagram = this.#seal(this.#header({}), this.#speechPacket());
    const at = this.#rng.pick([2, 3, 4, 5, 6, 7, 13, 14, 15]);
    datagram[at]! ^= 1 + this.#rng.int(255);
    return datagram;
  }

  /** The P bit: the library trims as many bytes as the last plaintext byte says. */
  #padded(): Buffer {
    const rng = this.#rng;
    const padding = Buffer.alloc(rng.range(1, 8));
    padding[padding.length - 1] = rng.pick([0, 1, padding.length, 255]);
    return this.#seal(this.#header({ first: 0xb0 }), Buffer.concat([this.#speechPacket(), padding]));
  }

  /** Extension lengths that disagree with the payload, or another profile than BE DE. */
  #oddExtension(): Buffer {
    const rng = this.#rng;
    const header = this.#header({});
    if (rng.chance(0.3)) {
      header[12] = rng.int(256);
      header[13] = rng.int(256);
    } else {
      header.writeUInt16BE(rng.pick([0, 2, 100, 0xffff]), 14);
    }
    return this.#seal(header, this.#speechPacket(), rng.pick([0, 4, 8]));
  }
}
