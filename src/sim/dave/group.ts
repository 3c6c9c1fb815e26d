import type { Logger } from "../../log.ts";
import { appendProposals, type ExternalSender, parseCommitWelcome, snowflakeBytes } from "./mls.ts";

/*
 * The voice gateway's half of DAVE for one channel (the MLS delivery service of
 * discord/dave-protocol): it knows the group's id, epoch and which leaf each member holds, turns
 * key packages into external Add proposals and departures into Remove proposals, broadcasts the
 * first valid commit of an epoch (29) with welcomes for the newcomers (30), and executes each
 * transition (22) once every member is ready (23) or a timeout passes. It never sees media keys.
 */

/** Voice gateway opcodes of DAVE. */
export const DAVE_OP = {
  PrepareTransition: 21,
  ExecuteTransition: 22,
  ReadyForTransition: 23,
  PrepareEpoch: 24,
  ExternalSender: 25,
  KeyPackage: 26,
  Proposals: 27,
  CommitWelcome: 28,
  AnnounceCommit: 29,
  Welcome: 30,
  InvalidCommitWelcome: 31,
} as const;

export const DAVE_PROTOCOL_VERSION = 1;

/** How the gateway reaches one participant: the bot over its WebSocket, a simulated user in-process. */
export interface DaveLink {
  sendJson(op: number, d: Record<string, unknown>): void;
  sendBinary(op: number, payload: Buffer): void;
}

export interface DaveCounters {
  /** Commits the gateway broadcast (each moves the group one epoch on). */
  readonly epochs: number;
  /** Transitions executed (22 sent, or the sole-member reset's transition 0). */
  readonly transitions: number;
  /** op 31 reports: a member could not process a commit or welcome and was re-added. */
  readonly recoveries: number;
  /** Commits refused: unparsable, for another epoch, or after the epoch's winner. */
  readonly refusedCommits: number;
}

interface Participant {
  readonly userId: string;
  readonly link: DaveLink;
  keyPackage: Buffer | undefined;
  /** Leaf index while in the established group. */
  leaf: number | undefined;
}

/** Proposals broadcast for one epoch, waiting for the first commit. */
interface Round {
  readonly epoch: bigint;
  /** Who received which adds: before the group exists each pending member proposes the others. */
  readonly addsFor: Map<string, readonly string[]>;
  readonly removedLeaves: readonly number[];
  /** No commit at all (every committer gone or broken): broadcast the round again. */
  readonly timer: NodeJS.Timeout;
}

interface PendingTransition {
  readonly id: number;
  readonly waiting: Set<string>;
  /** Members this transition welcomed: one that never confirms is re-added. */
  readonly welcomed: ReadonlySet<string>;
  readonly timer: NodeJS.Timeout;
}

export interface DaveGroupOptions {
  readonly channelId: string;
  readonly externalSender: ExternalSender;
  /** Discord executes a transition after about 2 s even if someone never says ready. */
  readonly transitionTimeoutMs?: number;
  readonly logger: Logger;
}

export class DaveGroup {
  readonly channelId: string;
  readonly #groupId: Buffer;
  readonly #externalSender: ExternalSender;
  readonly #transitionTimeoutMs: number;
  readonly #logger: Logger;
  readonly #participants = new Map<string, Participant>();
  /** Leaf index -> user, mirroring the members' ratchet tree (blanks stay until the right edge). */
  #leaves: (string | undefined)[] = [];
  #established = false;
  #currentEpoch = 0n;
  #round: Round | undefined;
  /** Leaves to remove in the next round (members who left or asked to be re-added). */
  #removals: number[] = [];
  readonly #transitionsPending = new Map<number, PendingTransition>();
  #nextTransitionId = 1;
  #counters = { epochs: 0, transitions: 0, recoveries: 0, refusedCommits: 0 };
  #closed = false;

  constructor(options: DaveGroupOptions) {
    this.channelId = options.channelId;
    this.#groupId = snowflakeBytes(options.channelId);
    this.#externalSender = options.externalSender;
    this.#transitionTimeoutMs = options.transitionTimeoutMs ?? 2_000;
    this.#logger = options.logger;
  }

  /** The group's MLS epoch: 0 until the first commit, then one more per commit. */
  get epoch(): bigint {
    return this.#currentEpoch;
  }

  get counts(): DaveCounters {
    return { ...this.#counters };
  }

  /** Whether the user is a member of the established group (welcomed or committed). */
  isMember(userId: string): boolean {
    return this.#established && this.#participants.get(userId)?.leaf !== undefined;
  }

  /** Whether a transition is announced and not yet executed. */
  get transitioning(): boolean {
    return this.#round !== undefined || this.#transitionsPending.size > 0;
  }

  /** The ids of everyone connected, which members check proposals against (op 11). */
  userIds(): string[] {
    return [...this.#participants.keys()];
  }

  /** A participant connected (bot after op 4, simulated user on joining): send the external sender. */
  join(userId: string, link: DaveLink): void {
    if (this.#participants.has(userId)) this.leave(userId);
    this.#participants.set(userId, { userId, link, keyPackage: undefined, leaf: undefined });
    link.sendBinary(DAVE_OP.ExternalSender, this.#externalSender.package);
  }

  /** A participant disconnected: Remove their leaf, or reset a sole remaining member. */
  leave(userId: string): void {
    const participant = this.#participants.get(userId);
    if (participant === undefined) return;
    this.#participants.delete(userId);
    for (const pending of this.#transitionsPending.values()) pending.waiting.delete(userId);
    if (participant.leaf !== undefined) this.#removals.push(participant.leaf);
    this.#afterDeparture();
  }

  /**
   * A participant's socket was replaced. Messages to it are replayed, but its own may be lost: a
   * pending member whose key package never arrived is asked for a new one with prepare-epoch 1,
   * the protocol's way to make a client start a fresh local group.
   */
  resumed(userId: string): void {
    const participant = this.#participants.get(userId);
    if (participant === undefined || participant.leaf !== undefined || participant.keyPackage !== undefined) {
      return;
    }
    participant.link.sendJson(DAVE_OP.PrepareEpoch, { protocol_version: DAVE_PROTOCOL_VERSION, epoch: 1 });
  }

  onKeyPackage(userId: string, keyPackage: Buffer): void {
    const participant = this.#participants.get(userId);
    if (participant === undefined) return;
    // A pending member may replace its key package; a member sending one wants to be re-added.
    if (participant.leaf !== undefined) {
      this.#removals.push(participant.leaf);
      participant.leaf = undefined;
    }
    participant.keyPackage = keyPackage;
    this.#schedule();
  }

  onCommitWelcome(userId: string, payload: Buffer): void {
    const round = this.#round;
    let parsed: ReturnType<typeof parseCommitWelcome>;
    try {
      parsed = parseCommitWelcome(payload);
    } catch (error) {
      this.#counters.refusedCommits++;
      this.#logger.warn({ userId, err: error }, "refused an unparsable DAVE commit");
      return;
    }
    const adds = round?.addsFor.get(userId);
    if (round === undefined || adds === undefined || parsed.epoch !== round.epoch) {
      // Not the first commit of this epoch (or not one we asked for): commit ordering says drop it.
      this.#counters.refusedCommits++;
      return;
    }
    if (adds.length > 0 && parsed.welcome === undefined) {
      this.#counters.refusedCommits++;
      this.#logger.warn({ userId }, "refused a DAVE commit that adds members without a welcome");
      return;
    }
    clearTimeout(round.timer);
    this.#round = undefined;
    const transitionId = this.#allocateTransitionId();
    const committer = this.#participants.get(userId);
    if (!this.#established && committer !== undefined) {
      this.#leaves = [userId];
      committer.leaf = 0;
    }
    this.#applyRemovals(round.removedLeaves);
    const welcomed: Participant[] = [];
    for (const addedId of adds) {
      const leaf = this.#placeLeaf(addedId);
      const added = this.#participants.get(addedId);
      if (added === undefined) {
        // Left while the commit was in flight: their leaf is in the tree and must go next round.
        this.#removals.push(leaf);
        continue;
      }
      added.leaf = leaf;
      added.keyPackage = undefined;
      welcomed.push(added);
    }
    if (committer !== undefined) committer.keyPackage = undefined;
    this.#established = true;
    this.#currentEpoch = parsed.epoch + 1n;
    this.#counters.epochs++;
    const members = [...this.#participants.values()].filter((p) => p.leaf !== undefined);
    const announce = Buffer.alloc(2 + parsed.commit.length);
    announce.writeUInt16BE(transitionId, 0);
    parsed.commit.copy(announce, 2);
    const welcome = parsed.welcome === undefined ? undefined : withTransitionId(transitionId, parsed.welcome);
    this.#startTransition(transitionId, members, welcomed);
    for (const member of members) {
      if (welcomed.includes(member)) {
        if (welcome !== undefined) member.link.sendBinary(DAVE_OP.Welcome, welcome);
      } else {
        member.link.sendBinary(DAVE_OP.AnnounceCommit, announce);
      }
    }
    this.#schedule();
  }

  onReadyForTransition(userId: string, transitionId: number): void {
    const pending = this.#transitionsPending.get(transitionId);
    if (pending === undefined) return;
    pending.waiting.delete(userId);
    if (pending.waiting.size === 0) this.#execute(pending);
  }

  /** op 31: remove the member and add them again once their fresh key package arrives. */
  onInvalidCommitWelcome(userId: string): void {
    const participant = this.#participants.get(userId);
    if (participant === undefined) return;
    this.#counters.recoveries++;
    for (const pending of this.#transitionsPending.values()) pending.waiting.delete(userId);
    if (participant.leaf !== undefined) {
      this.#removals.push(participant.leaf);
      participant.leaf = undefined;
    }
    // Their key package may have arrived already (the library sends 31, then 26).
    this.#afterDeparture();
  }

  close(): void {
    this.#closed = true;
    if (this.#round !== undefined) clearTimeout(this.#round.timer);
    for (const pending of this.#transitionsPending.values()) clearTimeout(pending.timer);
    this.#transitionsPending.clear();
    this.#participants.clear();
  }

  #afterDeparture(): void {
    const members = [...this.#participants.values()].filter((p) => p.leaf !== undefined);
    const pending = [...this.#participants.values()].filter((p) => p.leaf === undefined);
    if (this.#established && members.length <= 1 && pending.length === 0) {
      this.#soleMemberReset();
      return;
    }
    if (this.#established && members.length === 0) {
      // Nobody left to commit: start over as at the beginning, with everyone pending.
      this.#resetGroup();
    }
    this.#schedule();
  }

  /** dave-protocol "Sole member reset": no one keeps control of an established group alone. */
  #soleMemberReset(): void {
    this.#resetGroup();
    for (const participant of this.#participants.values()) {
      participant.link.sendJson(DAVE_OP.PrepareEpoch, { protocol_version: DAVE_PROTOCOL_VERSION, epoch: 1 });
      participant.link.sendJson(DAVE_OP.PrepareTransition, {
        protocol_version: DAVE_PROTOCOL_VERSION,
        transition_id: 0,
      });
    }
    this.#counters.transitions++;
  }

  #resetGroup(): void {
    this.#established = false;
    this.#currentEpoch = 0n;
    this.#leaves = [];
    this.#removals = [];
    if (this.#round !== undefined) clearTimeout(this.#round.timer);
    this.#round = undefined;
    for (const pending of this.#transitionsPending.values()) clearTimeout(pending.timer);
    this.#transitionsPending.clear();
    for (const participant of this.#participants.values()) {
      participant.leaf = undefined;
      participant.keyPackage = undefined;
    }
  }

  /** Broadcasts the next round of proposals unless one is waiting for its commit. */
  #schedule(): void {
    if (this.#closed || this.#round !== undefined) return;
    const joining = [...this.#participants.values()].filter(
      (p) => p.leaf === undefined && p.keyPackage !== undefined,
    );
    if (!this.#established) {
      // Initial group creation: every pending member with a local group proposes all the others.
      if (joining.length < 2) return;
      const addsFor = new Map<string, readonly string[]>();
      for (const recipient of joining) {
        const others = joining.filter((p) => p !== recipient);
        addsFor.set(
          recipient.userId,
          others.map((p) => p.userId),
        );
        const proposals = others.map((p) =>
          this.#externalSender.addProposal(this.#groupId, 0n, p.keyPackage!),
        );
        recipient.link.sendBinary(DAVE_OP.Proposals, appendProposals(proposals));
      }
      this.#round = { epoch: 0n, addsFor, removedLeaves: [], timer: this.#roundTimer([]) };
      return;
    }
    const removedLeaves = [...new Set(this.#removals)].filter((leaf) => this.#leaves[leaf] !== undefined);
    this.#removals = [];
    if (joining.length === 0 && removedLeaves.length === 0) return;
    const members = [...this.#participants.values()].filter((p) => p.leaf !== undefined);
    if (members.length === 0) return;
    const proposals = [
      ...removedLeaves.map((leaf) =>
        this.#externalSender.removeProposal(this.#groupId, this.#currentEpoch, leaf),
      ),
      ...joining.map((p) =>
        this.#externalSender.addProposal(this.#groupId, this.#currentEpoch, p.keyPackage!),
      ),
    ];
    const addIds = joining.map((p) => p.userId);
    const addsFor = new Map<string, readonly string[]>();
    const payload = appendProposals(proposals);
    for (const member of members) {
      addsFor.set(member.userId, addIds);
      member.link.sendBinary(DAVE_OP.Proposals, payload);
    }
    this.#round = {
      epoch: this.#currentEpoch,
      addsFor,
      removedLeaves,
      timer: this.#roundTimer(removedLeaves),
    };
  }

  #roundTimer(removedLeaves: readonly number[]): NodeJS.Timeout {
    const timer = setTimeout(() => {
      if (this.#round?.timer !== timer) return;
      this.#logger.info({ epoch: this.#currentEpoch }, "no DAVE commit arrived: proposing again");
      this.#round = undefined;
      this.#removals.push(...removedLeaves);
      this.#schedule();
    }, 2 * this.#transitionTimeoutMs);
    timer.unref();
    return timer;
  }

  #applyRemovals(leaves: readonly number[]): void {
    for (const leaf of leaves) {
      const userId = this.#leaves[leaf];
      this.#leaves[leaf] = undefined;
      const participant = userId === undefined ? undefined : this.#participants.get(userId);
      if (participant?.leaf === leaf) participant.leaf = undefined;
    }
    // MLS truncates blank leaves at the right edge of the tree.
    while (this.#leaves.length > 0 && this.#leaves.at(-1) === undefined) this.#leaves.pop();
  }

  /** MLS puts an added member in the leftmost blank leaf, else at the right edge. */
  #placeLeaf(userId: string): number {
    const blank = this.#leaves.indexOf(undefined);
    const leaf = blank === -1 ? this.#leaves.length : blank;
    this.#leaves[leaf] = userId;
    return leaf;
  }

  #startTransition(id: number, members: readonly Participant[], welcomed: readonly Participant[]): void {
    const pending: PendingTransition = {
      id,
      waiting: new Set(members.map((m) => m.userId)),
      welcomed: new Set(welcomed.map((m) => m.userId)),
      timer: setTimeout(() => this.#execute(pending), this.#transitionTimeoutMs),
    };
    this.#transitionsPending.set(id, pending);
  }

  #execute(pending: PendingTransition): void {
    if (this.#transitionsPending.get(pending.id) !== pending) return;
    clearTimeout(pending.timer);
    this.#transitionsPending.delete(pending.id);
    this.#counters.transitions++;
    // A welcomed member that never said ready most likely never got its welcome: it is in the
    // tree but cannot decrypt. Remove it and ask it (prepare-epoch 1) for a fresh key package.
    const lost = [...pending.waiting].filter((userId) => pending.welcomed.has(userId));
    for (const participant of this.#participants.values()) {
      if (participant.leaf !== undefined && !lost.includes(participant.userId)) {
        participant.link.sendJson(DAVE_OP.ExecuteTransition, { transition_id: pending.id });
      }
    }
    for (const userId of lost) {
      const participant = this.#participants.get(userId);
      if (participant?.leaf === undefined) continue;
      this.#counters.recoveries++;
      this.#logger.info(
        { userId, transitionId: pending.id },
        "a welcomed DAVE member never confirmed; re-adding",
      );
      this.#removals.push(participant.leaf);
      participant.leaf = undefined;
      participant.keyPackage = undefined;
      participant.link.sendJson(DAVE_OP.PrepareEpoch, { protocol_version: DAVE_PROTOCOL_VERSION, epoch: 1 });
    }
    if (lost.length > 0) this.#schedule();
  }

  #allocateTransitionId(): number {
    const id = this.#nextTransitionId;
    // 0 means "(re)initialise, execute at once", so ids cycle through 1..65535.
    this.#nextTransitionId = id >= 0xffff ? 1 : id + 1;
    return id;
  }
}

function withTransitionId(transitionId: number, message: Buffer): Buffer {
  const out = Buffer.alloc(2 + message.length);
  out.writeUInt16BE(transitionId, 0);
  message.copy(out, 2);
  return out;
}
