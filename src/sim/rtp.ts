import { createCipheriv, createDecipheriv } from "node:crypto";

/*
 * Byte layouts of Discord voice UDP as @discordjs/voice 0.19 speaks them, transport-encrypted with
 * `aead_aes256_gcm_rtpsize` (the only mode offered: AES-256-GCM is built into node:crypto).
 */

export const ENCRYPTION_MODE = "aead_aes256_gcm_rtpsize";
export const OPUS_PAYLOAD_TYPE = 120;
export const SECRET_KEY_BYTES = 32;
export const RTP_TIMESTAMP_STEP = 960;

const RTP_HEADER_BYTES = 12;
const EXTENSION_HEADER_BYTES = 4;
/** The extension body is one 32-bit word: Discord sends encrypted extension elements there. */
const EXTENSION_BODY_BYTES = 4;
const AUTH_TAG_BYTES = 16;
const NONCE_SUFFIX_BYTES = 4;
const IV_BYTES = 12;

const IP_DISCOVERY_BYTES = 74;
const IP_DISCOVERY_REQUEST = 1;
const IP_DISCOVERY_RESPONSE = 2;
const IP_DISCOVERY_ADDRESS_OFFSET = 8;
const IP_DISCOVERY_ADDRESS_BYTES = 64;
export const KEEPALIVE_BYTES = 8;

export const SILENCE_FRAME = Buffer.from([0xf8, 0xff, 0xfe]);

/** Discord's 3-byte Opus silence frame, sent as padding after speech. */
export function isSilenceFrame(opus: Uint8Array): boolean {
  return opus.length === 3 && opus[0] === 0xf8 && opus[1] === 0xff && opus[2] === 0xfe;
}

/** The SSRC of an IP discovery request, or undefined when the datagram is not one. */
export function parseDiscoveryRequest(message: Buffer): number | undefined {
  if (message.length !== IP_DISCOVERY_BYTES || message.readUInt16BE(0) !== IP_DISCOVERY_REQUEST)
    return undefined;
  return message.readUInt32BE(4);
}

/** The 74-byte reply: the client reads the NUL-terminated address at 8 and the port from the last two bytes. */
export function discoveryResponse(ssrc: number, address: string, port: number): Buffer {
  const reply = Buffer.alloc(IP_DISCOVERY_BYTES);
  reply.writeUInt16BE(IP_DISCOVERY_RESPONSE, 0);
  reply.writeUInt16BE(IP_DISCOVERY_BYTES - 4, 2);
  reply.writeUInt32BE(ssrc, 4);
  reply.write(address, IP_DISCOVERY_ADDRESS_OFFSET, IP_DISCOVERY_ADDRESS_BYTES - 1, "latin1");
  reply.writeUInt16BE(port, IP_DISCOVERY_BYTES - 2);
  return reply;
}

/** RTP state of one sending user: advanced by every sealed packet. */
export interface RtpSenderState {
  readonly ssrc: number;
  sequence: number;
  timestamp: number;
  nonce: number;
}

/**
 * Seals Opus frames the way Discord sends them to a bot: header with the X bit and a one-word
 * `BE DE` extension (16-byte AAD), then GCM(4 extension bytes ‖ opus), tag, 4-byte nonce. Always
 * carrying the extension keeps the client from mistaking ciphertext that starts with BE DE for one.
 * One sealer per session key; its scratch buffers are reused for every packet.
 */
export class RtpSealer {
  readonly #key: Buffer;
  readonly #iv = Buffer.alloc(IV_BYTES);
  #plain = Buffer.alloc(1500);

  constructor(key: Buffer) {
    this.#key = key;
  }

  /** Returns a new datagram (the socket may still hold the previous one). */
  seal(sender: RtpSenderState, opus: Uint8Array): Buffer {
    const headerBytes = RTP_HEADER_BYTES + EXTENSION_HEADER_BYTES;
    const plainBytes = EXTENSION_BODY_BYTES + opus.length;
    if (this.#plain.length < plainBytes) this.#plain = Buffer.alloc(plainBytes * 2);
    this.#plain.fill(0, 0, EXTENSION_BODY_BYTES);
    this.#plain.set(opus, EXTENSION_BODY_BYTES);

    const packet = Buffer.allocUnsafe(headerBytes + plainBytes + AUTH_TAG_BYTES + NONCE_SUFFIX_BYTES);
    packet[0] = 0x90;
    packet[1] = OPUS_PAYLOAD_TYPE;
    packet.writeUInt16BE(sender.sequence, 2);
    packet.writeUInt32BE(sender.timestamp, 4);
    packet.writeUInt32BE(sender.ssrc, 8);
    packet[12] = 0xbe;
    packet[13] = 0xde;
    packet.writeUInt16BE(EXTENSION_BODY_BYTES / 4, 14);

    sender.nonce = (sender.nonce + 1) >>> 0;
    this.#iv.writeUInt32BE(sender.nonce, 0);
    const cipher = createCipheriv("aes-256-gcm", this.#key, this.#iv);
    cipher.setAAD(packet.subarray(0, headerBytes));
    const sealed = cipher.update(this.#plain.subarray(0, plainBytes));
    cipher.final();
    sealed.copy(packet, headerBytes);
    cipher.getAuthTag().copy(packet, headerBytes + plainBytes);
    this.#iv.copy(packet, headerBytes + plainBytes + AUTH_TAG_BYTES, 0, NONCE_SUFFIX_BYTES);

    sender.sequence = (sender.sequence + 1) & 0xffff;
    sender.timestamp = (sender.timestamp + RTP_TIMESTAMP_STEP) >>> 0;
    return packet;
  }
}

export interface OpenedPacket {
  readonly sequence: number;
  readonly timestamp: number;
  readonly ssrc: number;
  readonly nonce: number;
  readonly opus: Buffer;
}

/** Smallest datagram that can carry a sealed frame: header, tag and nonce. */
const MIN_SEALED_BYTES = RTP_HEADER_BYTES + AUTH_TAG_BYTES + NONCE_SUFFIX_BYTES;

/**
 * Opens a packet the bot sent. Reads the header length from the CSRC count and X bit, so it does not
 * depend on the client's choice. Throws a descriptive error on anything malformed or forged.
 */
export class RtpOpener {
  readonly #key: Buffer;
  readonly #iv = Buffer.alloc(IV_BYTES);

  constructor(key: Buffer) {
    this.#key = key;
  }

  open(packet: Buffer): OpenedPacket {
    if (packet.length < MIN_SEALED_BYTES) throw new Error(`RTP packet too short (${packet.length} bytes)`);
    const first = packet[0]!;
    if (first >> 6 !== 2) throw new Error(`not RTP version 2 (first byte 0x${first.toString(16)})`);
    if ((packet[1]! & 0x7f) !== OPUS_PAYLOAD_TYPE)
      throw new Error(`payload type ${packet[1]! & 0x7f} is not Opus`);
    const hasExtension = (first & 0x10) !== 0;
    const headerBytes = RTP_HEADER_BYTES + 4 * (first & 0x0f) + (hasExtension ? EXTENSION_HEADER_BYTES : 0);
    const tagStart = packet.length - AUTH_TAG_BYTES - NONCE_SUFFIX_BYTES;
    if (tagStart < headerBytes)
      throw new Error(`RTP packet too short for its header (${packet.length} bytes)`);

    packet.copy(this.#iv, 0, packet.length - NONCE_SUFFIX_BYTES);
    const decipher = createDecipheriv("aes-256-gcm", this.#key, this.#iv);
    decipher.setAAD(packet.subarray(0, headerBytes));
    decipher.setAuthTag(packet.subarray(tagStart, tagStart + AUTH_TAG_BYTES));
    let opus = decipher.update(packet.subarray(headerBytes, tagStart));
    decipher.final();
    if (hasExtension) {
      const extensionBytes = 4 * packet.readUInt16BE(headerBytes - 2);
      if (extensionBytes > opus.length) throw new Error("RTP extension longer than the payload");
      opus = opus.subarray(extensionBytes);
    }
    return {
      sequence: packet.readUInt16BE(2),
      timestamp: packet.readUInt32BE(4),
      ssrc: packet.readUInt32BE(8),
      nonce: packet.readUInt32BE(packet.length - NONCE_SUFFIX_BYTES),
      opus,
    };
  }
}
