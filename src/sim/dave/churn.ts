import type { SimGuild } from "../harness.ts";

/*
 * `simulate --member-churn-ms n`: a visitor joins the channel, and n ms later leaves, and another
 * joins n ms after that, and so on, so that DAVE epochs change while the bot listens and answers.
 */

export interface Churn {
  /** Joins plus leaves so far. */
  readonly changes: () => number;
  stop(): void;
}

export function startMemberChurn(guild: SimGuild, everyMs: number): Churn {
  let visitor: string | undefined;
  let changes = 0;
  const timer = setInterval(() => {
    if (visitor === undefined) {
      visitor = guild.addVisitor();
    } else {
      guild.removeUser(visitor);
      visitor = undefined;
    }
    changes++;
  }, everyMs);
  return {
    changes: () => changes,
    stop: () => {
      clearInterval(timer);
      if (visitor !== undefined) guild.removeUser(visitor);
    },
  };
}
