import type { Logger } from "../../log.ts";
import { DAVE_OP, DAVE_PROTOCOL_VERSION, type DaveCounters, DaveGroup, type DaveLink } from "./group.ts";
import type { ExternalSender } from "./mls.ts";
import { type MemberFaults, SimDaveMember } from "./sim-member.ts";

/*
 * DAVE for one guild's channel in the loopback voice server: the gateway's group plus one davey
 * client per simulated user. The server hands it the bot's DAVE messages, asks it to protect what
 * users send and to open what the bot sends, and reports its counters.
 */

/** dave-protocol "Protocol Frame Check": every DAVE frame ends with the 0xFAFA magic marker. */
export function isDaveFrame(frame: Uint8Array): boolean {
  const n = frame.length;
  return n > 2 && frame[n - 1] === 0xfa && frame[n - 2] === 0xfa;
}

export interface DaveReport extends DaveCounters {
  readonly protocolVersion: number;
  readonly epoch: number;
  /** Bot frames the capture could not decrypt with any simulated member's session. */
  readonly decryptFailures: number;
  /** Simulated users' frames sent DAVE-encrypted. */
  readonly encryptedFrames: number;
  /** Bot frames that arrived DAVE-encrypted and the capture decrypted. */
  readonly decryptedFrames: number;
}

/** Deliberate gateway-side faults towards the bot, for tests. */
export interface BotDaveFaults {
  /** Flip a byte of the next commit (29) or welcome (30) sent to the bot: it must answer op 31. */
  corruptNextToBot: boolean;
  /** Lose the bot's next DAVE message of each op listed (as on a socket that dies under them). */
  dropFromBot: number[];
}

export interface GuildDaveOptions {
  readonly channelId: string;
  readonly externalSender: ExternalSender;
  readonly transitionTimeoutMs?: number;
  readonly logger: Logger;
}

export class GuildDave {
  readonly group: DaveGroup;
  readonly #members = new Map<string, SimDaveMember>();
  readonly #logger: Logger;
  readonly botFaults: BotDaveFaults = { corruptNextToBot: false, dropFromBot: [] };
  #captureFailures = 0;
  #captureOpened = 0;
  #departedEncrypted = 0;

  constructor(options: GuildDaveOptions) {
    this.#logger = options.logger;
    this.group = new DaveGroup(options);
  }

  get channelId(): string {
    return this.group.channelId;
  }

  /** A simulated user joined the channel: they become a pending member with their own session. */
  addUser(userId: string): void {
    if (this.#members.has(userId)) return;
    const member = new SimDaveMember(userId, this.group, this.#logger);
    this.#members.set(userId, member);
    this.group.join(userId, member.link);
  }

  removeUser(userId: string): void {
    const member = this.#members.get(userId);
    if (member === undefined) return;
    this.#members.delete(userId);
    this.#departedEncrypted += member.encrypted;
    member.leave();
    this.group.leave(userId);
  }

  member(userId: string): SimDaveMember | undefined {
    return this.#members.get(userId);
  }

  faults(userId: string): MemberFaults | undefined {
    return this.#members.get(userId)?.faults;
  }

  /** The bot has its Session Description: it joins as a pending member over `link`. */
  botJoined(userId: string, link: DaveLink): void {
    this.group.join(userId, {
      sendJson: (op, d) => link.sendJson(op, d),
      sendBinary: (op, payload) => {
        if ((op === DAVE_OP.AnnounceCommit || op === DAVE_OP.Welcome) && this.botFaults.corruptNextToBot) {
          this.botFaults.corruptNextToBot = false;
          const corrupt = Buffer.from(payload);
          corrupt[corrupt.length - 1]! ^= 0xff;
          link.sendBinary(op, corrupt);
          return;
        }
        link.sendBinary(op, payload);
      },
    });
  }

  /** The bot resumed: what it sent on the dropped socket (a key package, say) may be lost. */
  botResumed(userId: string): void {
    this.group.resumed(userId);
  }

  botLeft(userId: string): void {
    this.group.leave(userId);
  }

  /** A DAVE op from the bot's WebSocket. */
  botMessage(userId: string, op: number, payload: Buffer | Record<string, unknown>): void {
    const drop = this.botFaults.dropFromBot.indexOf(op);
    if (drop !== -1) {
      this.botFaults.dropFromBot.splice(drop, 1);
      return;
    }
    if (Buffer.isBuffer(payload)) {
      if (op === DAVE_OP.KeyPackage) this.group.onKeyPackage(userId, Buffer.from(payload));
      else if (op === DAVE_OP.CommitWelcome) this.group.onCommitWelcome(userId, Buffer.from(payload));
      else this.#logger.warn({ userId, op }, "ignored a binary DAVE op from the bot");
      return;
    }
    const transitionId = typeof payload.transition_id === "number" ? payload.transition_id : undefined;
    if (op === DAVE_OP.ReadyForTransition && transitionId !== undefined) {
      this.group.onReadyForTransition(userId, transitionId);
    } else if (op === DAVE_OP.InvalidCommitWelcome) {
      this.group.onInvalidCommitWelcome(userId);
    }
  }

  /** What a simulated user puts on the wire for an Opus frame. */
  protect(userId: string, opus: Uint8Array): Uint8Array {
    return this.#members.get(userId)?.protect(opus) ?? opus;
  }

  /**
   * The Opus inside a frame the bot sent: unchanged when it is not a DAVE frame (silence, or the
   * bot alone in the channel), decrypted with a member's session when it is; undefined when no
   * member can decrypt it, which a listener in the channel would hear as a gap.
   */
  openBotFrame(botUserId: string, frame: Buffer): Buffer | undefined {
    if (!isDaveFrame(frame)) return frame;
    for (const member of this.#members.values()) {
      if (!member.ready) continue;
      const opus = member.open(botUserId, frame);
      if (opus !== undefined) {
        this.#captureOpened++;
        return opus;
      }
    }
    this.#captureFailures++;
    return undefined;
  }

  report(): DaveReport {
    let encryptedFrames = this.#departedEncrypted;
    for (const member of this.#members.values()) encryptedFrames += member.encrypted;
    return {
      protocolVersion: DAVE_PROTOCOL_VERSION,
      epoch: Number(this.group.epoch),
      ...this.group.counts,
      decryptFailures: this.#captureFailures,
      decryptedFrames: this.#captureOpened,
      encryptedFrames,
    };
  }

  close(): void {
    for (const member of this.#members.values()) member.leave();
    this.#members.clear();
    this.group.close();
  }
}
