import { describe, expect, it } from "vitest";
import { RESUME_SETTLE_MS, type TurnPolicy, TurnTaker } from "../../src/bridge/turn-taking.ts";
import { addressing, isBackchannel } from "../../src/bridge/turn-words.ts";

const SMART: TurnPolicy = {
  smart: true,
  minInterruptionMs: 500,
  wakeMode: "off",
  wakeName: "Nova",
  followUpMs: 20_000,
  language: "en-US",
};

/** A TurnTaker with a log of what it told the bridge to do. */
function rig(policy: TurnPolicy = SMART, humans = 1) {
  const done: string[] = [];
  const taker = new TurnTaker(
    {
      pause: () => done.push("pause"),
      resume: () => done.push("resume"),
      cut: (at) => done.push(`cut@${at}`),
      respond: (note) => done.push(note === undefined ? "respond" : `respond+note`),
      ignored: (itemId) => done.push(`ignored ${itemId}`),
      resumed: () => {},
    },
    policy,
    () => humans,
  );
  /** Speech heard every 20 ms from `from` to `to`, the clock ticking on to `until`. */
  const speak = (from: number, to: number, until: number) => {
    for (let t = from; t <= until; t += 20) {
      if (t <= to) taker.heard(t);
      taker.tick(t);
    }
  };
  return { taker, done, speak };
}

describe("backchannels and the wake name (words only)", () => {
  it("knows backchannels, in any order and repeated, and nothing else", () => {
    for (const said of ["mm-hmm", "Yeah.", "okay, go on", "uh huh yeah", "", "Right right.", "hmm"]) {
      expect(isBackchannel(said, "en-US"), said).toBe(true);
    }
    for (const said of [
      "wait",
      "stop please",
      "yeah but what about Paris",
      "[local transcript: 0.3 s of speech]",
    ]) {
      expect(isBackchannel(said, "en-US"), said).toBe(false);
    }
    expect(isBackchannel("d'accord", "fr-FR")).toBe(true);
    expect(isBackchannel("genau", "de")).toBe(true);
    expect(isBackchannel("ja", null)).toBe(false);
  });

  it("hears the name anywhere, through recognition errors, and tells a call from a question", () => {
    expect(addressing("What time is it, Nova?", "Nova")).toEqual({ named: true, nameOnly: false });
    expect(addressing("hey nova", "Nova")).toEqual({ named: true, nameOnly: true });
    expect(addressing("Novah?", "Nova")).toEqual({ named: false, nameOnly: false });
    expect(addressing("Ask Voicelife about it", "Voicelive")).toMatchObject({ named: true });
    expect(addressing("ask skybot", "Sky Bot")).toMatchObject({ named: true, nameOnly: false });
    expect(addressing("Sky bot!", "Sky Bot")).toEqual({ named: true, nameOnly: true });
    expect(addressing("Voice live, are you there?", "Voicelive")).toMatchObject({
      named: true,
      nameOnly: false,
    });
    expect(addressing("hey voice live", "Voicelive")).toEqual({ named: true, nameOnly: true });
    expect(addressing("what did you think about the movie", "Voicelive").named).toBe(false);
  });
});

describe("TurnTaker, smart interruptions", () => {
  it("pauses on speech over the bot and resumes once a short burst has ended", () => {
    const { taker, done, speak } = rig();
    taker.speechStarted("u1", 1000, true, 900, 1000);
    expect(done).toEqual(["pause"]);
    speak(1000, 1200, 1200 + RESUME_SETTLE_MS - 20);
    expect(done).toEqual(["pause"]);
    speak(1200 + RESUME_SETTLE_MS, 0, 1200 + RESUME_SETTLE_MS);
    expect(done).toEqual(["pause", "resume"]);
    taker.committed("u1");
    taker.transcript("u1", "mm-hmm", 2000);
    expect(done).toEqual(["pause", "resume"]);
  });

  it("cuts as soon as the speech lasts past min_interruption_ms, and answers the turn when committed", () => {
    const { taker, done, speak } = rig();
    taker.speechStarted("u1", 1000, true, 900, 1000);
    speak(1000, 2000, 1380);
    expect(done).toEqual(["pause"]);
    speak(1400, 2000, 1400);
    expect(done).toEqual(["pause", "cut@1400"]);
    taker.committed("u1");
    expect(done).toEqual(["pause", "cut@1400", "respond"]);
  });

  it("cuts a short burst whose words are not a backchannel, even after it resumed", () => {
    const { taker, done, speak } = rig();
    taker.speechStarted("u1", 1000, true, 1000, 1000);
    speak(1000, 1250, 1500);
    expect(done).toEqual(["pause", "resume"]);
    taker.committed("u1");
    taker.transcript("u1", "Wait.", 1900);
    expect(done).toEqual(["pause", "resume", "cut@1900", "respond"]);
  });

  it("decides by the words when they come before the quiet does", () => {
    const { taker, done } = rig();
    taker.speechStarted("u1", 1000, true, 1000, 1000);
    taker.transcript("u1", "yeah", 1100);
    expect(done).toEqual(["pause", "resume"]);
    taker.speechStarted("u2", 2000, true, 2000, 2000);
    taker.committed("u2");
    taker.transcript("u2", "no, stop", 2100);
    expect(done).toEqual(["pause", "resume", "pause", "cut@2100", "respond"]);
  });

  it("answers an ordinary turn at its commit, and does not pause a silent bot", () => {
    const { taker, done } = rig();
    taker.speechStarted("u1", 1000, false, 1000, 1000);
    taker.committed("u1");
    expect(done).toEqual(["respond"]);
  });

  it("in service mode only answers (wake name on): it never pauses", () => {
    const { taker, done } = rig({ ...SMART, smart: false, wakeMode: "always" });
    taker.speechStarted("u1", 1000, true, 1000, 1000);
    taker.committed("u1");
    taker.transcript("u1", "Nova, how far is the moon?", 1500);
    expect(done).toEqual(["respond"]);
  });
});

describe("TurnTaker, wake name", () => {
  const GROUP: TurnPolicy = { ...SMART, wakeMode: "group" };

  it("in a group answers only turns that say the name, and answers the ignored one when called", () => {
    const { taker, done } = rig(GROUP, 2);
    taker.speechStarted("u1", 1000, false, 1000, 1000);
    taker.committed("u1");
    expect(done).toEqual([]);
    taker.transcript("u1", "What is the capital of Peru?", 1500);
    expect(done).toEqual(["ignored u1"]);
    taker.speechStarted("u2", 3000, false, 3000, 3000);
    taker.committed("u2");
    taker.transcript("u2", "Nova?", 3500);
    expect(done).toEqual(["ignored u1", "respond+note"]);
    taker.speechStarted("u3", 60_000, false, 60_000, 60_000);
    taker.committed("u3");
    taker.transcript("u3", "Nova, and of Chile?", 60_500);
    expect(done.at(-1)).toBe("respond");
  });

  it("answers a follow-up without the name, within the window after the bot spoke", () => {
    const { taker, done } = rig(GROUP, 3);
    taker.botSpoke(10_000);
    taker.speechStarted("u1", 25_000, false, 25_000, 25_000);
    taker.committed("u1");
    taker.transcript("u1", "And tomorrow?", 25_500);
    taker.speechStarted("u2", 40_000, false, 40_000, 40_000);
    taker.committed("u2");
    taker.transcript("u2", "And the day after?", 40_500);
    expect(done).toEqual(["respond", "ignored u2"]);
  });

  it("needs no name one-to-one in group mode, and always does in always mode", () => {
    const alone = rig(GROUP, 1);
    alone.taker.speechStarted("u1", 1000, false, 1000, 1000);
    alone.taker.committed("u1");
    expect(alone.done).toEqual(["respond"]);
    const always = rig({ ...SMART, wakeMode: "always" }, 1);
    always.taker.speechStarted("u1", 1000, false, 1000, 1000);
    always.taker.committed("u1");
    always.taker.transcript("u1", "How are you?", 1500);
    expect(always.done).toEqual(["ignored u1"]);
  });
});
