import { seededRandom } from "../src/audio/analysis.ts";
import type { LocalVoiceLiveServer } from "../src/local/server.ts";
import { createLogger } from "../src/log.ts";
import { defaultPersona, type Persona } from "../src/persona.ts";
import { lastSentAt, type SimGuild, SimHarness } from "../src/sim/harness.ts";
import { coughBurst, voicedSpeech } from "../src/sim/synthetic-speech.ts";
import { sleep, until } from "./fleet.ts";
import { percentile, round } from "./measure.ts";
import type { BenchSection, Figures } from "./section.ts";

/**
 * "turns": smart turn-taking and the wake name, judged by what the channel hears, over the
 * loopback servers in this process. All speech is generated here (src/sim/synthetic-speech.ts);
 * what it "says" is scripted per guild through the local server's transcripts.
 *
 * - Interruptions: a user asks a question; at a random point of the answer another user coughs,
 *   says a backchannel (both shorter than min_interruption_ms) or really interrupts (a sentence).
 *   A false interruption is resumed correctly when the answer plays on to its end, with no cut, no
 *   truncation and no new response; a real one is cut within 1 frame when at most one frame of the
 *   answer reaches the channel after the pause and the answer is then truncated, never resumed.
 *   Short real words ("Wait.", under min_interruption_ms) are a fourth kind, reported apart: the
 *   bot resumes before their transcript can arrive and cuts when it does (the known limit).
 *   The same coughs and backchannels in a `service` guild are the control.
 * - Latency: the same ordinary turns in a `service` and a `smart` guild; the added latency is the
 *   difference of their median end-of-speech → first-bot-audio times.
 * - Wake name: a group of two with `wake_mode: group` and `follow_up_seconds: 0` (so each turn is
 *   judged by its words alone); half the turns say the name somewhere, with recognition errors.
 */

const INTERRUPTION_GUILDS = 3;
const INTERRUPTION_TRIALS_PER_GUILD = 24;
const LATENCY_TURNS = 15;
const WAKE_TURNS = 30;
/** The question: the local server's answer echoes it, so the answer lasts about as long. */
const QUESTION_MS = 3_600;
/** Where the interjection starts, after the answer's first audio. */
const INTERJECTION_FROM_MS = 200;
const INTERJECTION_TO_MS = 1_800;
/** Shorter than min_interruption_ms (500). */
const SHORT_MS = [260, 450] as const;
const SENTENCE_MS = [900, 1_500] as const;
/** After the last bot audio, how long a trial waits for a late cut before it is judged. */
const SETTLE_MS = 1_000;
const ANSWER_TIMEOUT_MS = 15_000;

const BACKCHANNELS = ["Mm-hmm.", "Yeah.", "Okay.", "Go on.", "Uh-huh, yeah.", "Right.", "I see."];
const REAL_INTERRUPTIONS = [
  "Wait, what about tomorrow?",
  "Stop, that's not what I asked.",
  "Hold on, say that again?",
  "No, I meant the other one.",
];
const SHORT_WORDS = ["Wait.", "Stop.", "No.", "Hold on."];
const SAID: Readonly<Record<Exclude<Kind, "cough">, readonly string[]>> = {
  backchannel: BACKCHANNELS,
  real: REAL_INTERRUPTIONS,
  word: SHORT_WORDS,
};
const SMALL_TALK = [
  "what do you think about the weather today",
  "can you pass me the salt",
  "did you see the game last night",
  "let's meet at noon tomorrow",
  "I really like this song",
  "how was your trip to Lisbon",
];
/** The bot's name as recognition may write it. */
const NAME_AS_HEARD = ["Voicelive", "voicelive", "Voicelife", "Voice live", "Boicelive"];

/** "word": a real interruption shorter than min_interruption_ms ("Wait."), told apart only by its transcript. */
type Kind = "cough" | "backchannel" | "real" | "word";

interface InterruptionOutcome {
  readonly kind: Kind;
  readonly correct: boolean;
  readonly paused: boolean;
  /** Interjection's last frame sent → first resumed frame in the channel; pause → that frame. */
  readonly resumeGapMs?: number;
  readonly pauseToResumeMs?: number;
  /** "word": the answer's audio the channel heard between the pause and the cut. */
  readonly heardBeforeCutMs?: number;
}

function between(random: () => number, [from, to]: readonly [number, number]): number {
  return Math.round((from + random() * (to - from)) / 20) * 20;
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

function persona(key: string, change: Partial<Persona> = {}): Persona {
  return { ...defaultPersona({ instructions: `${key} You are a test voice.`, voice: "alloy" }), ...change };
}

async function quiet(guild: SimGuild, responses: number): Promise<boolean> {
  const record = guild.record;
  const answered = await until(() => record.responses.length >= responses, ANSWER_TIMEOUT_MS);
  const done = await until(() => guild.status()?.botSpeaking === false, ANSWER_TIMEOUT_MS);
  return answered && done;
}

async function interruptionTrial(
  guild: SimGuild,
  [asker, other]: readonly string[],
  key: string,
  server: LocalVoiceLiveServer,
  kind: Kind,
  random: () => number,
  turnTaking: Persona["turnTaking"],
): Promise<InterruptionOutcome> {
  const record = guild.record;
  const before = {
    pauses: record.pauses.length,
    resumes: record.resumes.length,
    truncations: record.truncations.length,
    responses: record.responses.length,
    requests: record.responseRequests.length,
    handed: record.handed.length,
  };
  const spokeAt = performance.now();
  await guild.speak(asker!, { pcm: voicedSpeech(QUESTION_MS, Math.floor(random() * 2 ** 31)) });
  const firstAudio = await guild.waitForBotAudio(spokeAt, ANSWER_TIMEOUT_MS);
  if (firstAudio === undefined) throw new Error(`${key}: no answer to the question`);
  await sleep(firstAudio + between(random, [INTERJECTION_FROM_MS, INTERJECTION_TO_MS]) - performance.now());

  const seed = Math.floor(random() * 2 ** 31);
  const pcm =
    kind === "cough"
      ? coughBurst(between(random, SHORT_MS), seed)
      : voicedSpeech(between(random, kind === "real" ? SENTENCE_MS : SHORT_MS), seed);
  server.transcribeNext(kind === "cough" ? "" : pick(random, SAID[kind]), key);
  const interjection = await guild.speak(other!, { pcm });
  const interjectionEnd = lastSentAt(interjection) ?? Number.NaN;
  // The service answers what cut its answer, cough or not.
  const cutsAndAnswers = kind === "real" || kind === "word" || turnTaking === "service";
  const answered = await quiet(guild, before.responses + (cutsAndAnswers ? 2 : 1));
  await sleep(SETTLE_MS);

  const answer = record.handed[before.handed];
  const pauses = record.pauses.slice(before.pauses);
  const resumes = record.resumes.slice(before.resumes);
  const cut = record.truncations.length > before.truncations;
  // Until the next answer's first frame, every packet with sound in the channel is the question's
  // answer: counted from the packets themselves, with no pairing that one lost frame would shift.
  const nextAnswerAt =
    record.handed.slice(before.handed).find((frame) => frame.itemId !== answer?.itemId)?.at ??
    Number.POSITIVE_INFINITY;
  const answerPackets = guild.packets.filter(
    (packet) =>
      !packet.isSilence && packet.receivedAt > (answer?.at ?? 0) && packet.receivedAt < nextAnswerAt,
  );
  const heardAfter = (at: number): number => answerPackets.filter((packet) => packet.receivedAt > at).length;
  const paused = pauses.length > 0;
  const pausedAt = pauses[0] ?? Number.POSITIVE_INFINITY;
  if (kind === "real") {
    const correct = answered && paused && resumes.length === 0 && cut && heardAfter(pausedAt) <= 1;
    return { kind, correct, paused };
  }
  if (kind === "word") {
    return { kind, correct: answered && paused && cut, paused, heardBeforeCutMs: heardAfter(pausedAt) * 20 };
  }
  const statuses = record.responses.slice(before.responses).map((response) => response.status);
  const correct =
    answered &&
    !cut &&
    resumes.length === pauses.length &&
    statuses.length === 1 &&
    statuses[0] === "completed" &&
    // The bot asked for the one answer, and nothing for the interjection (the service asks itself).
    (turnTaking === "service" || record.responseRequests.length - before.requests === 1);
  const resume = resumes[0];
  if (resume === undefined) return { kind, correct, paused };
  const firstResumed = answerPackets.find((packet) => packet.receivedAt > resume.at);
  if (firstResumed === undefined) return { kind, correct: false, paused };
  return {
    kind,
    correct,
    paused,
    resumeGapMs: firstResumed.receivedAt - interjectionEnd,
    pauseToResumeMs: firstResumed.receivedAt - resume.pausedAt,
  };
}

interface InterruptionSet {
  readonly turnTaking: Persona["turnTaking"];
  readonly guilds: number;
  readonly trialsPerGuild: number;
  readonly kinds: readonly Kind[];
}

const SMART_SET: InterruptionSet = {
  turnTaking: "smart",
  guilds: INTERRUPTION_GUILDS,
  trialsPerGuild: INTERRUPTION_TRIALS_PER_GUILD,
  kinds: ["cough", "backchannel", "real", "word"],
};
/** The control: the same false interruptions with `turn_taking: service`. */
const SERVICE_SET: InterruptionSet = {
  turnTaking: "service",
  guilds: 1,
  trialsPerGuild: 12,
  kinds: ["cough", "backchannel"],
};

async function interruptions(
  harness: SimHarness,
  server: LocalVoiceLiveServer,
  { turnTaking, guilds, trialsPerGuild, kinds }: InterruptionSet,
): Promise<{ outcomes: InterruptionOutcome[]; framesNotHeard: number }> {
  const perGuild = await Promise.all(
    Array.from({ length: guilds }, async (_, g) => {
      const key = `Turns bench interruptions ${turnTaking} ${g}:`;
      const random = seededRandom(0x7a11 + g);
      const guild = await harness.join({ persona: persona(key, { turnTaking }) });
      const users = [await guild.addUser(), await guild.addUser()];
      await sleep(g * 700);
      const outcomes: InterruptionOutcome[] = [];
      for (let t = 0; t < trialsPerGuild; t++) {
        const kind = kinds[(t + g) % kinds.length]!;
        outcomes.push(await interruptionTrial(guild, users, key, server, kind, random, turnTaking));
      }
      // Frames counted as played that never reached the channel (each would make a truncation
      // 20 ms late); the judging above counts packets and does not depend on it.
      const framesNotHeard = guild.record.handed.length - guild.record.nonSilentPackets;
      await guild.leave();
      return { outcomes, framesNotHeard };
    }),
  );
  return {
    outcomes: perGuild.flatMap((guild) => guild.outcomes),
    framesNotHeard: perGuild.reduce((sum, guild) => sum + Math.abs(guild.framesNotHeard), 0),
  };
}

/** End of speech → first bot audio in the channel, per ordinary turn. */
async function latencies(
  harness: SimHarness,
  turnTaking: Persona["turnTaking"],
  seed: number,
): Promise<number[]> {
  const guild = await harness.join({
    persona: persona(`Turns bench latency ${turnTaking}:`, { turnTaking }),
  });
  const user = await guild.addUser();
  const random = seededRandom(seed);
  const out: number[] = [];
  for (let t = 0; t < LATENCY_TURNS; t++) {
    const responses = guild.record.responses.length;
    const spokeAt = performance.now();
    const run = await guild.speak(user, { pcm: voicedSpeech(between(random, [1_200, 2_000]), seed + t) });
    const firstAudio = await guild.waitForBotAudio(spokeAt, ANSWER_TIMEOUT_MS);
    if (firstAudio === undefined) throw new Error(`latency ${turnTaking}: no answer to turn ${t}`);
    out.push(firstAudio - (lastSentAt(run) ?? Number.NaN));
    await quiet(guild, responses + 1);
    await sleep(300);
  }
  await guild.leave();
  return out;
}

function wakeTranscript(random: () => number, named: boolean): string {
  const talk = pick(random, SMALL_TALK);
  if (!named) return `${talk[0]!.toUpperCase()}${talk.slice(1)}?`;
  const name = pick(random, NAME_AS_HEARD);
  const words = talk.split(" ");
  const at = Math.floor(random() * (words.length + 1));
  words.splice(at, 0, at === 0 ? `${name},` : name);
  return `${words.join(" ")}?`;
}

async function wake(
  harness: SimHarness,
  server: LocalVoiceLiveServer,
): Promise<{ ignored: number; unnamed: number; answered: number; named: number }> {
  const key = "Turns bench wake:";
  const guild = await harness.join({ persona: persona(key, { wakeMode: "group", followUpSeconds: 0 }) });
  const users = [await guild.addUser(), await guild.addUser()];
  const random = seededRandom(0x3a4e);
  const record = guild.record;
  const tally = { ignored: 0, unnamed: 0, answered: 0, named: 0 };
  for (let t = 0; t < WAKE_TURNS; t++) {
    const named = t % 2 === 1;
    const requests = record.responseRequests.length;
    const ignored = record.ignoredTurns.length;
    const responses = record.responses.length;
    server.transcribeNext(wakeTranscript(random, named), key);
    await guild.speak(users[t % 2]!, { pcm: voicedSpeech(between(random, [900, 1_500]), 0x5eed + t) });
    await until(
      () => record.responseRequests.length > requests || record.ignoredTurns.length > ignored,
      ANSWER_TIMEOUT_MS,
    );
    const wasAnswered = record.responseRequests.length > requests;
    if (wasAnswered) await quiet(guild, responses + 1);
    if (named) {
      tally.named++;
      if (wasAnswered) tally.answered++;
    } else {
      tally.unnamed++;
      if (!wasAnswered && record.ignoredTurns.length > ignored) tally.ignored++;
    }
    await sleep(200);
  }
  await guild.leave();
  return tally;
}

function percent(part: number, whole: number): number {
  return whole === 0 ? 0 : round((100 * part) / whole, 1);
}

export async function turnsScenario(): Promise<Figures> {
  const harness = await SimHarness.start({
    backend: { kind: "local", speed: 2 },
    logger: createLogger({ level: "error", pretty: false }),
  });
  try {
    const server = harness.local!;
    const [{ outcomes, framesNotHeard }, control] = await Promise.all([
      interruptions(harness, server, SMART_SET),
      sleep(1_000).then(() => interruptions(harness, server, SERVICE_SET)),
    ]);
    const [service, smart] = await Promise.all([
      latencies(harness, "service", 0x1a7e),
      sleep(1_700).then(() => latencies(harness, "smart", 0x1a7e)),
    ]);
    const woken = await wake(harness, server);

    const falseOnes = outcomes.filter((o) => o.kind === "cough" || o.kind === "backchannel");
    const words = outcomes.filter((o) => o.kind === "word");
    const realOnes = outcomes.filter((o) => o.kind === "real");
    const gaps = falseOnes.flatMap((o) => (o.resumeGapMs === undefined ? [] : [o.resumeGapMs]));
    const pauseToResume = falseOnes.flatMap((o) =>
      o.pauseToResumeMs === undefined ? [] : [o.pauseToResumeMs],
    );
    const byKind = (kind: Kind) => {
      const of = outcomes.filter((o) => o.kind === kind);
      return {
        trials: of.length,
        correct: of.filter((o) => o.correct).length,
        paused: of.filter((o) => o.paused).length,
      };
    };
    return {
      falseInterruptionsResumedPercent: percent(falseOnes.filter((o) => o.correct).length, falseOnes.length),
      realInterruptionsCutWithin1FramePercent: percent(
        realOnes.filter((o) => o.correct).length,
        realOnes.length,
      ),
      addedLatencyP50Ms: round(percentile(smart, 50) - percentile(service, 50)),
      resumeGapP50Ms: round(percentile(gaps, 50)),
      resumeGapP90Ms: round(percentile(gaps, 90)),
      pauseToResumeP50Ms: round(percentile(pauseToResume, 50)),
      wakeIgnoredPercent: percent(woken.ignored, woken.unnamed),
      wakeAnsweredPercent: percent(woken.answered, woken.named),
      trials: {
        cough: byKind("cough"),
        backchannel: byKind("backchannel"),
        real: byKind("real"),
        word: byKind("word"),
      },
      shortWordCutPercent: percent(words.filter((o) => o.correct).length, words.length),
      shortWordHeardBeforeCutP50Ms: round(
        percentile(
          words.map((o) => o.heardBeforeCutMs ?? 0),
          50,
        ),
      ),
      latency: {
        serviceP50Ms: round(percentile(service, 50)),
        smartP50Ms: round(percentile(smart, 50)),
        turnsPerMode: LATENCY_TURNS,
      },
      wake: woken,
      framesNotHeard,
      service: {
        falseInterruptionsResumedPercent: percent(
          control.outcomes.filter((o) => o.correct).length,
          control.outcomes.length,
        ),
        trials: control.outcomes.length,
      },
    };
  } finally {
    await harness.close();
  }
}

export const section: BenchSection = {
  description: `turn-taking over loopback: ${INTERRUPTION_GUILDS * INTERRUPTION_TRIALS_PER_GUILD} interjections at random points of answers, ${LATENCY_TURNS} ordinary turns per mode, ${WAKE_TURNS} group turns (percent, ms)`,
  targets: [
    { figure: "falseInterruptionsResumedPercent", atLeast: 95 },
    { figure: "realInterruptionsCutWithin1FramePercent", atLeast: 100 },
    { figure: "addedLatencyP50Ms", atMost: 150 },
    { figure: "resumeGapP50Ms", atMost: 300 },
    { figure: "wakeIgnoredPercent", atLeast: 100 },
    { figure: "wakeAnsweredPercent", atLeast: 100 },
  ],
  run: turnsScenario,
};
