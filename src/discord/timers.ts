/** Runs a callback after a delay and returns its cancel function; injected so timer logic is testable. */
export type Schedule = (callback: () => void, delayMs: number) => () => void;

export const schedule: Schedule = (callback, delayMs) => {
  const timer = setTimeout(callback, delayMs);
  return () => clearTimeout(timer);
};
