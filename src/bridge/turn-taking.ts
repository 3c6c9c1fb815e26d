import { BoundedMap } from "../util/bounded-map.ts";
import { addressing, isBackchannel } from "./turn-words.ts";

/**
 * Who gets the floor, turn by turn, when the bot decides instead of the service (`turn_taking:
 * smart`, or a wake name). The service then neither cancels on speech (`interrupt_response: false`)
 * nor answers by itself (`create_response: false`); this class says, from the timing of the speech
 * the bridge hears and the transcript the service sends, when to pause, resume, cut and answer.
 *
 * Smart interruptions: when someone starts talking while the bot speaks (or is about to), the bot
 * pauses at once and holds the rest of its answer. Speech that goes on past `minInterruptionMs`, or
 * whose transcript has words that are not a backchannel, cuts the answer as a service barge-in
 * would. Speech that ends sooner resumes it once `RESUME_SETTLE_MS` of quiet confirm the end; its
 * transcript, when it comes later, can still turn out to be words, and then the answer is cut.
 *
 * Wake name: in a group (or always), a turn is answered only when it says the bot's name, or comes
 * within the follow-up window after the bot spoke; other turns stay in the conversation as context.
 * A name said alone right after an ignored turn answers that turn.
 */

/** Quiet after short speech that confirms it ended; the resume follows at the next tick. */
export const RESUME_SETTLE_MS = 200;
const TRACKED_TURNS = 16;

export interface TurnActions {
  /** Stop the bot's voice now and hold the rest. */
  pause(at: number): void;
  resume(): void;
  /** Cut the answer for good (cancel, truncate at what was heard). */
  cut(at: number): void;
  /** Ask for a response; `note` first goes to the model as a system message. */
  respond(note: string | undefined): void;
  /** A turn was not answered because it did not address the bot. */
  ignored(itemId: string): void;
  /** A held answer went on: the speech was not an interruption. */
  resumed(at: number, pausedAt: number): void;
}

export interface TurnPolicy {
  readonly smart: boolean;
  readonly minInterruptionMs: number;
  readonly wakeMode: "off" | "group" | "always";
  /** Empty: no name to listen for (wake mode then off). */
  readonly wakeName: string;
  readonly followUpMs: number;
  /** Transcription language, for the backchannel list. */
  readonly language: string | null;
}

type TurnKind =
  /** The bot was silent: answered as it ends (subject to the wake name). */
  | "ordinary"
  /** Spoken over the bot, not decided yet. */
  | "held"
  /** Decided not to be an interruption: not answered (unless its words say otherwise). */
  | "passed"
  /** A real interruption: the answer was cut, this turn is answered. */
  | "interruption";

interface Turn {
  kind: TurnKind;
  readonly startedAt: number;
  committed: boolean;
  /** undefined: not arrived; null: transcription failed. */
  transcript: string | null | undefined;
  settled: boolean;
}

interface Hold {
  readonly pausedAt: number;
  readonly onsetAt: number;
  lastSpeechAt: number;
  readonly itemIds: string[];
}

export class TurnTaker {
  readonly #actions: TurnActions;
  readonly #turns = new BoundedMap<string, Turn>(TRACKED_TURNS);
  #policy: TurnPolicy;
  #hold: Hold | undefined;
  #lastBotSpokeAt = Number.NEGATIVE_INFINITY;
  #lastIgnored = false;
  /** People in the channel (not bots), for `group`. */
  readonly #humans: () => number;

  constructor(actions: TurnActions, policy: TurnPolicy, humans: () => number) {
    this.#actions = actions;
    this.#policy = policy;
    this.#humans = humans;
  }

  setPolicy(policy: TurnPolicy): void {
    this.#policy = policy;
  }

  /** Whether the bot, not the service, answers turns (and so the session must not). */
  static explicit(policy: TurnPolicy): boolean {
    return policy.smart || (policy.wakeMode !== "off" && policy.wakeName.length > 0);
  }

  get holding(): boolean {
    return this.#hold !== undefined;
  }

  /**
   * The service heard a turn start. `botBusy`: the bot is speaking or a response is under way.
   * `onsetAt` / `lastSpeechAt`: when the bridge first and last heard speech of this turn.
   */
  speechStarted(itemId: string, now: number, botBusy: boolean, onsetAt: number, lastSpeechAt: number): void {
    const hold = this.#hold;
    if (hold !== undefined) {
      hold.itemIds.push(itemId);
      this.#turns.set(itemId, newTurn("held", now));
      return;
    }
    if (this.#policy.smart && botBusy) {
      this.#actions.pause(now);
      this.#hold = { pausedAt: now, onsetAt, lastSpeechAt, itemIds: [itemId] };
      this.#turns.set(itemId, newTurn("held", now));
      return;
    }
    this.#turns.set(itemId, newTurn("ordinary", now));
  }

  /** A tick carried speech. */
  heard(at: number): void {
    if (this.#hold !== undefined) this.#hold.lastSpeechAt = at;
  }

  /** Every tick: a hold is decided by how long the speech lasted. */
  tick(now: number): void {
    const hold = this.#hold;
    if (hold === undefined) return;
    if (hold.lastSpeechAt - hold.onsetAt >= this.#policy.minInterruptionMs) this.#cut(now);
    else if (now - hold.lastSpeechAt >= RESUME_SETTLE_MS) this.#resume(now);
  }

  /** The bot's voice reached the channel (for the follow-up window). */
  botSpoke(at: number): void {
    this.#lastBotSpokeAt = at;
  }

  committed(itemId: string): void {
    const turn = this.#turns.get(itemId);
    if (turn === undefined) {
      // Committed without a speech start the bot saw (a reconnect in between): an ordinary turn.
      this.#turns.set(itemId, { ...newTurn("ordinary", performance.now()), committed: true });
    } else {
      turn.committed = true;
    }
    this.#settle(itemId);
  }

  /** The turn's words; null when transcription failed. */
  transcript(itemId: string, text: string | null, now: number): void {
    const turn = this.#turns.get(itemId);
    if (turn === undefined) return;
    turn.transcript = text;
    const words = text !== null && !isBackchannel(text, this.#policy.language);
    if (turn.kind === "held" && this.#hold !== undefined) {
      if (words) this.#cut(now);
      else if (text !== null) this.#resume(now);
    } else if (turn.kind === "passed" && words) {
      // Short, but words after all ("wait"): the answer stops now.
      this.#actions.cut(now);
      turn.kind = "interruption";
    }
    this.#settle(itemId);
  }

  /** The conversation went away (reconnect, restart): nothing held or pending is still meaningful. */
  reset(): void {
    this.#hold = undefined;
    this.#turns.clear();
    this.#lastIgnored = false;
  }

  #cut(now: number): void {
    const hold = this.#hold!;
    this.#hold = undefined;
    this.#actions.cut(now);
    for (const itemId of hold.itemIds) {
      const turn = this.#turns.get(itemId);
      if (turn !== undefined) turn.kind = "interruption";
    }
    for (const itemId of hold.itemIds) this.#settle(itemId);
  }

  #resume(now: number): void {
    const hold = this.#hold!;
    this.#hold = undefined;
    this.#actions.resume();
    this.#actions.resumed(now, hold.pausedAt);
    for (const itemId of hold.itemIds) {
      const turn = this.#turns.get(itemId);
      if (turn !== undefined) turn.kind = "passed";
    }
  }

  /** Answers (or ignores) a turn once everything its decision needs is known. */
  #settle(itemId: string): void {
    const turn = this.#turns.get(itemId);
    if (turn === undefined || turn.settled || !turn.committed) return;
    if (turn.kind === "held" || turn.kind === "passed") return;
    if (!this.#wakeNeeded()) {
      this.#answer(turn, undefined);
      return;
    }
    if (turn.transcript === undefined) return;
    const heard =
      turn.transcript === null
        ? { named: false, nameOnly: false }
        : addressing(turn.transcript, this.#policy.wakeName);
    if (heard.nameOnly && this.#lastIgnored) {
      this.#answer(turn, "You were just called by name: answer what was said to you before that.");
    } else if (heard.named || turn.startedAt - this.#lastBotSpokeAt <= this.#policy.followUpMs) {
      this.#answer(turn, undefined);
    } else {
      turn.settled = true;
      this.#lastIgnored = true;
      this.#actions.ignored(itemId);
    }
  }

  #answer(turn: Turn, note: string | undefined): void {
    turn.settled = true;
    this.#lastIgnored = false;
    this.#actions.respond(note);
  }

  #wakeNeeded(): boolean {
    const { wakeMode, wakeName } = this.#policy;
    if (wakeMode === "off" || wakeName.length === 0) return false;
    return wakeMode === "always" || this.#humans() >= 2;
  }
}

function newTurn(kind: TurnKind, startedAt: number): Turn {
  return { kind, startedAt, committed: false, transcript: undefined, settled: false };
}
