import { FrameClock } from "../audio/frame-clock.ts";

/**
 * Calls `send(i)` for i = 0..count-1, frame i due 20 ms * i after the start on the drift-free
 * FrameClock. Frames that fell due during a stall go out together on the next wake, as a real
 * client's backlog would, so every frame is sent. Resolves with the number sent; an abort stops
 * early and resolves too.
 */
export function paceFrames(
  count: number,
  send: (index: number) => void,
  signal: AbortSignal,
): Promise<number> {
  return new Promise((resolve) => {
    if (count === 0 || signal.aborted) {
      resolve(0);
      return;
    }
    let next = 0;
    const finish = (): void => {
      clock.stop();
      signal.removeEventListener("abort", finish);
      resolve(next);
    };
    const clock = new FrameClock({
      onTick: (tick) => {
        while (next <= tick && next < count) send(next++);
        if (next >= count) finish();
      },
    });
    signal.addEventListener("abort", finish, { once: true });
    clock.start();
  });
}
