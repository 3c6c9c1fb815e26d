import { FRAME_MS } from "../audio/constants.ts";

/**
 * The two output figures /status, `npm run simulate` and the benchmarks all report, defined once.
 * They differ only in where "left" is observed: the bot's player (/status), or the packets the
 * loopback voice server captured (simulate, benchmarks).
 */

/** A gap longer than this between two frames starts a new burst. */
const BURST_GAP_MS = 3 * FRAME_MS;

/**
 * Output hold time of one bot frame: from when it could have left to when it did. It could leave
 * once its audio had arrived from Voice Live and, within a burst, once its predecessor's 20 ms
 * were up; time spent waiting for either is not ours. Timer jitter below zero counts as 0.
 */
export class OutputHoldClock {
  #previousLeftAt = Number.NEGATIVE_INFINITY;

  /** Feed every frame in the order it left; returns its hold time in ms. */
  heldMs(leftAt: number, audioReceivedAt: number): number {
    const slot =
      leftAt - this.#previousLeftAt < BURST_GAP_MS
        ? this.#previousLeftAt + FRAME_MS
        : Number.NEGATIVE_INFINITY;
    this.#previousLeftAt = leftAt;
    return Math.max(0, leftAt - Math.max(audioReceivedAt, slot));
  }
}

export interface LeftFrame {
  readonly itemId: string;
  /** When the bot handed the frame to the connection (its clock). */
  readonly handedAt: number;
  /** When the frame was observed leaving (the same clock). */
  readonly leftAt: number;
}

export interface BargeInCut {
  /** Frames of what was playing at the barge-in that still left after it (the target is at most 1). */
  readonly framesAfter: number;
  /** From the barge-in to the last of those frames; 0 when none left. */
  readonly reactionMs: number;
}

/**
 * What a barge-in at `at` failed to stop: frames of the items already playing (handed over
 * before it) that left after it. Frames of a later answer do not count. `firstAfter` is the index
 * of the first frame that left after the barge-in when the observer knows it better than the
 * timestamps do (a packet sent just before may be read just after); by default, the first frame
 * whose `leftAt` is later than `at`.
 */
export function bargeInCut(at: number, frames: readonly LeftFrame[], firstAfter?: number): BargeInCut {
  const playing = new Set<string>();
  for (const frame of frames) if (frame.handedAt < at) playing.add(frame.itemId);
  let framesAfter = 0;
  let lastLeftAt = at;
  const start = firstAfter ?? firstLeftAfter(at, frames);
  for (let k = start; k < frames.length; k++) {
    const frame = frames[k]!;
    if (!playing.has(frame.itemId)) continue;
    framesAfter++;
    lastLeftAt = Math.max(lastLeftAt, frame.leftAt);
  }
  return { framesAfter, reactionMs: lastLeftAt - at };
}

function firstLeftAfter(at: number, frames: readonly LeftFrame[]): number {
  let k = 0;
  while (k < frames.length && frames[k]!.leftAt <= at) k++;
  return k;
}

/**
 * Which captured packet carried each frame the bot handed over: the k-th handed frame is the k-th
 * non-silent packet, since the player sends frames in the order it takes them and fills gaps only
 * with Discord's silence frame. Frames never captured (the connection went away) are left out.
 */
export function packetsOfHandedFrames(
  handedFrames: number,
  packets: number,
  isSilence: (packet: number) => boolean,
): number[] {
  const carriers: number[] = [];
  for (let p = 0; p < packets && carriers.length < handedFrames; p++) {
    if (!isSilence(p)) carriers.push(p);
  }
  return carriers;
}
