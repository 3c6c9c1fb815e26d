import { generateKeyPairSync, type KeyObject, sign } from "node:crypto";

/*
 * The few RFC 9420 (MLS 1.0) structures a DAVE voice gateway writes and reads: its ExternalSender
 * package, external Add/Remove proposals signed with ECDSA P-256, and enough of a Commit's framing
 * to find its epoch and where the Welcome that follows it starts. Everything else in the group is
 * the clients' business (davey on both sides).
 */

const MLS_VERSION_10 = 1;
const WIRE_FORMAT_PUBLIC_MESSAGE = 1;
const SENDER_MEMBER = 1;
const SENDER_EXTERNAL = 2;
const SENDER_NEW_MEMBER_COMMIT = 4;
const CONTENT_APPLICATION = 1;
const CONTENT_PROPOSAL = 2;
const CONTENT_COMMIT = 3;
const PROPOSAL_ADD = 1;
const PROPOSAL_REMOVE = 3;
const CREDENTIAL_BASIC = 1;
const LEAF_SOURCE_KEY_PACKAGE = 1;
const LEAF_SOURCE_COMMIT = 3;
const SIGN_LABEL = Buffer.from("MLS 1.0 FramedContentTBS");

/** An MLS `opaque x<V>` length header (RFC 9420 §2.1.2). */
export function varint(length: number): Buffer {
  if (length < 0x40) return Buffer.from([length]);
  if (length < 0x4000) return Buffer.from([0x40 | (length >> 8), length & 0xff]);
  if (length < 0x40000000) {
    const out = Buffer.alloc(4);
    out.writeUInt32BE((0x80000000 | length) >>> 0);
    return out;
  }
  throw new RangeError(`MLS vector of ${length} bytes is too long`);
}

export function vector(bytes: Uint8Array): Buffer {
  return Buffer.concat([varint(bytes.length), bytes]);
}

function u16(value: number): Buffer {
  const out = Buffer.alloc(2);
  out.writeUInt16BE(value);
  return out;
}

function u32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value >>> 0);
  return out;
}

function u64(value: bigint): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE(value);
  return out;
}

/** A snowflake as DAVE puts it in credentials and group ids: big-endian u64. */
export function snowflakeBytes(id: string): Buffer {
  return u64(BigInt(id));
}

/** The voice gateway's signing identity: one per server, as Discord has one per media session. */
export class ExternalSender {
  readonly #privateKey: KeyObject;
  /** ExternalSender { SignaturePublicKey signature_key; Credential credential; } — the op 25 payload. */
  readonly package: Buffer;

  constructor() {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    this.#privateKey = privateKey;
    // SPKI for P-256 ends with the 65-byte uncompressed point MLS wants as the signature key.
    const spki = publicKey.export({ format: "der", type: "spki" });
    const point = spki.subarray(spki.length - 65);
    const credential = Buffer.concat([u16(CREDENTIAL_BASIC), vector(Buffer.from("loopback-voice-gateway"))]);
    this.package = Buffer.concat([vector(point), credential]);
  }

  /** An external Add proposal for a member's KeyPackage (as op 26 carries it), as an MLSMessage. */
  addProposal(groupId: Buffer, epoch: bigint, keyPackage: Uint8Array): Buffer {
    return this.#proposal(groupId, epoch, Buffer.concat([u16(PROPOSAL_ADD), keyPackage]));
  }

  /** An external Remove proposal for a leaf index, as an MLSMessage. */
  removeProposal(groupId: Buffer, epoch: bigint, leafIndex: number): Buffer {
    return this.#proposal(groupId, epoch, Buffer.concat([u16(PROPOSAL_REMOVE), u32(leafIndex)]));
  }

  #proposal(groupId: Buffer, epoch: bigint, proposal: Buffer): Buffer {
    const content = Buffer.concat([
      vector(groupId),
      u64(epoch),
      Buffer.from([SENDER_EXTERNAL]),
      u32(0), // index into the group's external_senders: there is exactly one
      vector(Buffer.alloc(0)), // authenticated_data
      Buffer.from([CONTENT_PROPOSAL]),
      proposal,
    ]);
    // FramedContentTBS for an external sender carries no GroupContext, so the gateway needs only
    // the group id and epoch to sign (RFC 9420 §6.1).
    const tbs = Buffer.concat([u16(MLS_VERSION_10), u16(WIRE_FORMAT_PUBLIC_MESSAGE), content]);
    const signContent = Buffer.concat([vector(SIGN_LABEL), vector(tbs)]);
    const signature = sign("sha256", signContent, this.#privateKey); // DER, as MLS ECDSA expects
    return Buffer.concat([u16(MLS_VERSION_10), u16(WIRE_FORMAT_PUBLIC_MESSAGE), content, vector(signature)]);
  }
}

/** The op 27 append payload: operation type 0, then the proposal MLSMessages as one vector. */
export function appendProposals(messages: readonly Buffer[]): Buffer {
  return Buffer.concat([Buffer.from([0]), vector(Buffer.concat(messages))]);
}

/** What the gateway learns from a member's op 28. */
export interface CommitWelcome {
  readonly commit: Buffer;
  /** The epoch the commit was made in; the group moves to epoch + 1. */
  readonly epoch: bigint;
  readonly welcome: Buffer | undefined;
}

class Reader {
  offset = 0;
  readonly #bytes: Buffer;
  constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }

  u8(): number {
    this.#need(1);
    return this.#bytes[this.offset++]!;
  }
  u16(): number {
    this.#need(2);
    const value = this.#bytes.readUInt16BE(this.offset);
    this.offset += 2;
    return value;
  }
  u64(): bigint {
    this.#need(8);
    const value = this.#bytes.readBigUInt64BE(this.offset);
    this.offset += 8;
    return value;
  }
  skip(count: number): void {
    this.#need(count);
    this.offset += count;
  }
  vectorLength(): number {
    const first = this.u8();
    const prefix = first >> 6;
    if (prefix === 0) return first & 0x3f;
    if (prefix === 1) return ((first & 0x3f) << 8) | this.u8();
    if (prefix === 2) {
      this.#need(3);
      const value = ((first & 0x3f) << 24) | this.#bytes.readUIntBE(this.offset, 3);
      this.offset += 3;
      return value;
    }
    throw new Error("invalid MLS varint");
  }
  skipVector(): void {
    this.skip(this.vectorLength());
  }
  #need(count: number): void {
    if (this.offset + count > this.#bytes.length) throw new Error("truncated MLS message");
  }
}

/** Skips a LeafNode (RFC 9420 §7.2), the one variable part of an UpdatePath. */
function skipLeafNode(reader: Reader): void {
  reader.skipVector(); // encryption_key
  reader.skipVector(); // signature_key
  reader.u16(); // credential_type (basic only in DAVE)
  reader.skipVector(); // identity
  for (let field = 0; field < 5; field++) reader.skipVector(); // capabilities
  const source = reader.u8();
  if (source === LEAF_SOURCE_KEY_PACKAGE) reader.skip(16);
  else if (source === LEAF_SOURCE_COMMIT) reader.skipVector();
  reader.skipVector(); // extensions
  reader.skipVector(); // signature
}

/**
 * Splits op 28 (a PublicMessage Commit, then an optional Welcome) and reads the commit's epoch.
 * Throws on anything that is not a public commit, which the gateway then refuses to broadcast.
 */
export function parseCommitWelcome(payload: Buffer): CommitWelcome {
  const reader = new Reader(payload);
  if (reader.u16() !== MLS_VERSION_10 || reader.u16() !== WIRE_FORMAT_PUBLIC_MESSAGE) {
    throw new Error("op 28 does not start with a PublicMessage");
  }
  reader.skipVector(); // group_id
  const epoch = reader.u64();
  const senderType = reader.u8();
  if (senderType === SENDER_MEMBER || senderType === SENDER_EXTERNAL) reader.skip(4);
  else if (senderType !== SENDER_NEW_MEMBER_COMMIT) throw new Error(`unknown MLS sender type ${senderType}`);
  reader.skipVector(); // authenticated_data
  const contentType = reader.u8();
  if (contentType !== CONTENT_COMMIT) {
    throw new Error(
      `op 28 carries content type ${contentType === CONTENT_APPLICATION ? "application" : contentType}, not a commit`,
    );
  }
  reader.skipVector(); // proposals
  if (reader.u8() === 1) {
    skipLeafNode(reader);
    reader.skipVector(); // nodes
  }
  reader.skipVector(); // signature
  reader.skipVector(); // confirmation_tag
  if (senderType === SENDER_MEMBER) reader.skipVector(); // membership_tag
  const commit = payload.subarray(0, reader.offset);
  const rest = payload.subarray(reader.offset);
  const welcome = rest.length === 0 ? undefined : rest;
  return { commit, epoch, welcome };
}
