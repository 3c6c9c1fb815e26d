import { Readable } from "node:stream";
import {
  type AudioPlayer,
  createAudioPlayer,
  createAudioResource,
  NoSubscriberBehavior,
  StreamType,
} from "@discordjs/voice";

/**
 * Keeps @discordjs/voice's shared 20 ms audio cycle running while any of our players exists.
 *
 * The library runs one cycle for every AudioPlayer in a module-level array, stops it when the array
 * empties and restarts it when a player is added. If the array empties while a cycle is still
 * preparing players (one setImmediate each), and a player starts before that chain ends, the old
 * chain schedules its next cycle too: from then on two cycles run side by side, and every player
 * sends its packets at twice the rate, until the array empties again (measured: bench "capacity"
 * at 100 guilds, after our players started stopping from inside the cycle). An anchor player that
 * never stops keeps the array from emptying: it sits auto-paused (no subscribers), never reads its
 * source and sends nothing, and costs one check per cycle. It goes with the last player (the timer
 * would otherwise keep the process alive); only a player started in that same moment could still
 * meet the race.
 */

let anchor: AudioPlayer | undefined;
let holders = 0;

/** Holds the cycle for one player; returns the (idempotent) release. */
export function holdAudioCycle(): () => void {
  holders++;
  if (anchor === undefined) {
    anchor = createAudioPlayer({ behaviors: { noSubscriber: NoSubscriberBehavior.Pause } });
    const source = new Readable({ read() {} });
    const resource = createAudioResource(source, { inputType: StreamType.Opus });
    // Started at once (a stream that never yields data never says "readable" by itself).
    source.emit("readable");
    anchor.play(resource);
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    holders--;
    if (holders > 0 || anchor === undefined) return;
    // The last player is gone: let the cycle (and its timer, which keeps the process alive) stop.
    anchor.stop(true);
    anchor = undefined;
  };
}
