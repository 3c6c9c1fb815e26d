import davey from "@snazzah/davey";
import type { Logger } from "../../log.ts";
import { DAVE_OP, DAVE_PROTOCOL_VERSION, type DaveGroup, type DaveLink } from "./group.ts";

/** davey's MediaType.AUDIO: its enums are ambient const enums, which erasable TypeScript cannot read. */
const MEDIA_AUDIO = 0;

/*
 * A simulated user's DAVE client: its own davey session, reached by the gateway in-process instead
 * of over a WebSocket. Messages are handled on a later turn of the event loop, as they would be
 * after a network hop, so the gateway never re-enters itself.
 */

/** Deliberate misbehaviour for fault tests. */
export interface MemberFaults {
  /** Send Opus without DAVE even when the group is established. */
  plaintext: boolean;
  /** Flip a byte of the next commit this member sends. */
  corruptNextCommit: boolean;
  /** Ignore the next welcome, as if it never arrived. */
  dropNextWelcome: boolean;
}

export class SimDaveMember {
  readonly userId: string;
  readonly faults: MemberFaults = { plaintext: false, corruptNextCommit: false, dropNextWelcome: false };
  readonly #session: davey.DAVESession;
  readonly #group: DaveGroup;
  readonly #logger: Logger;
  #left = false;
  /**
   * Senders switch to a new group's keys when the transition executes (22), not when they process
   * the commit: until then the other members may not have the keys. davey rotates an established
   * sender's keys itself, so this gates only the step from no group to a group.
   */
  #encrypting = false;
  /** Frames DAVE-encrypted for sending, and bot frames this member failed to decrypt. */
  encrypted = 0;
  decryptFailures = 0;

  readonly link: DaveLink = {
    sendJson: (op, d) => setImmediate(() => this.#onJson(op, d)),
    sendBinary: (op, payload) => setImmediate(() => this.#onBinary(op, payload)),
  };

  constructor(userId: string, group: DaveGroup, logger: Logger) {
    this.userId = userId;
    this.#group = group;
    this.#logger = logger;
    this.#session = new davey.DAVESession(DAVE_PROTOCOL_VERSION, userId, group.channelId);
  }

  /** The session can encrypt and decrypt: it is in the established group. */
  get ready(): boolean {
    return this.#session.ready;
  }

  get epoch(): bigint | undefined {
    return this.#session.epoch ?? undefined;
  }

  /** The code Discord shows users to compare out of band: equal across members of one epoch. */
  get voicePrivacyCode(): string {
    return this.#session.voicePrivacyCode;
  }

  /** DAVE-encrypts an Opus frame for sending, or returns it as it is while not in a group. */
  protect(opus: Uint8Array): Uint8Array {
    if (!this.#encrypting || !this.#session.ready || this.faults.plaintext) return opus;
    this.encrypted++;
    return this.#session.encryptOpus(Buffer.from(opus.buffer, opus.byteOffset, opus.byteLength));
  }

  /** Decrypts a DAVE frame another member sent; undefined (and counted) when it cannot. */
  open(senderId: string, frame: Buffer): Buffer | undefined {
    if (!this.#session.ready) {
      this.decryptFailures++;
      return undefined;
    }
    try {
      return this.#session.decrypt(senderId, MEDIA_AUDIO, frame);
    } catch {
      this.decryptFailures++;
      return undefined;
    }
  }

  /** The member disconnected: later gateway messages are ignored. */
  leave(): void {
    this.#left = true;
    try {
      this.#session.reset();
    } catch {
      // Already reset: nothing to release.
    }
  }

  #onJson(op: number, d: Record<string, unknown>): void {
    if (this.#left) return;
    if (op === DAVE_OP.PrepareEpoch && d.epoch === 1) {
      // A new group is to be created: start a fresh pending group and offer a new key package.
      this.#encrypting = false;
      this.#session.reinit(DAVE_PROTOCOL_VERSION, this.userId, this.#group.channelId);
      this.#group.onKeyPackage(this.userId, this.#session.getSerializedKeyPackage());
    } else if (op === DAVE_OP.ExecuteTransition) {
      this.#encrypting = true;
    }
  }

  #onBinary(op: number, payload: Buffer): void {
    if (this.#left) return;
    try {
      switch (op) {
        case DAVE_OP.ExternalSender:
          this.#session.setExternalSender(payload);
          this.#group.onKeyPackage(this.userId, this.#session.getSerializedKeyPackage());
          return;
        case DAVE_OP.Proposals:
          this.#onProposals(payload);
          return;
        case DAVE_OP.AnnounceCommit:
          this.#onTransition(payload, (message) => this.#session.processCommit(message));
          return;
        case DAVE_OP.Welcome:
          if (this.faults.dropNextWelcome) {
            this.faults.dropNextWelcome = false;
            return;
          }
          this.#onTransition(payload, (message) => this.#session.processWelcome(message));
          return;
        default:
          this.#logger.debug({ userId: this.userId, op }, "simulated DAVE member ignored an op");
      }
    } catch (error) {
      this.#logger.warn({ userId: this.userId, op, err: error }, "simulated DAVE member failed");
    }
  }

  #onProposals(payload: Buffer): void {
    const others = this.#group.userIds().filter((id) => id !== this.userId);
    const { commit, welcome } = this.#session.processProposals(payload[0]!, payload.subarray(1), others);
    if (commit === undefined) return;
    const message = welcome === undefined ? commit : Buffer.concat([commit, welcome]);
    if (this.faults.corruptNextCommit) {
      this.faults.corruptNextCommit = false;
      // The confirmation tag sits near the end of the commit: members must refuse it (op 31).
      message[commit.length - 3]! ^= 0xff;
    }
    this.#group.onCommitWelcome(this.userId, message);
  }

  /** 29 and 30: process, then report ready (23), or report it unprocessable (31) and start again. */
  #onTransition(payload: Buffer, process: (message: Buffer) => void): void {
    const transitionId = payload.readUInt16BE(0);
    try {
      process(payload.subarray(2));
    } catch (error) {
      this.#logger.info({ userId: this.userId, transitionId, err: error }, "simulated member reports op 31");
      this.#group.onInvalidCommitWelcome(this.userId);
      this.#encrypting = false;
      this.#session.reinit(DAVE_PROTOCOL_VERSION, this.userId, this.#group.channelId);
      this.#group.onKeyPackage(this.userId, this.#session.getSerializedKeyPackage());
      return;
    }
    this.#group.onReadyForTransition(this.userId, transitionId);
  }
}
