import { scrubSecrets } from "../log.ts";
import type { CaptionSink } from "./types.ts";

/**
 * Captions: one Discord message per turn, first with what the user said (attributed to whoever was
 * speaking in that turn), then edited to add what the bot said — cut to what the channel actually
 * heard when the bot was interrupted. Transcription is asynchronous in Voice Live and may arrive
 * before or after the bot's answer, so a turn is rendered from whatever parts are known.
 */

const MAX_MESSAGE_LENGTH = 1900;
/** Caption posts waiting for their turn at most; more are dropped (counted), so a burst stays bounded. */
const MAX_PENDING_POSTS = 8;

/**
 * The first `limit` characters as a string of their own. A plain slice of a long transcript keeps
 * the whole parent string alive in V8 for as long as the caption waits in the queue.
 */
function detachedPrefix(text: string, limit: number): string {
  return Buffer.from(text.length > limit ? text.slice(0, limit) : text, "utf8").toString("utf8");
}
/** How far before speech_started a speaker's words still count as the new turn's (VAD lag + prefix padding). */
const PENDING_SPEAKER_MS = 3000;

export interface SpeakerNames {
  nameOf(userId: string): string;
}

interface Turn {
  readonly userItemId: string;
  readonly speakers: Set<string>;
  userText: string | undefined;
  botText: string | undefined;
  interrupted: boolean;
  handle: Promise<string | undefined> | undefined;
}

/** Cuts a transcript to the share of its audio that was played, at a word boundary. */
export function cutTranscript(transcript: string, playedMs: number, totalMs: number): string {
  if (totalMs <= 0 || playedMs >= totalMs) return transcript;
  if (playedMs <= 0) return "";
  const target = Math.floor((transcript.length * playedMs) / totalMs);
  const boundary = transcript.lastIndexOf(" ", target);
  return `${transcript.slice(0, boundary > 0 ? boundary : target).trimEnd()}…`;
}

/** A word of the assistant's audio and where it ends, from Voice Live's word timestamps. */
export interface TimedWord {
  readonly text: string;
  readonly endMs: number;
}

/**
 * The transcript up to the last word whose audio was played completely, followed by "…" when
 * words were left unsaid. Undefined when a word cannot be found in the transcript in order (the
 * caller then cuts proportionally).
 */
export function cutTranscriptAtWords(
  transcript: string,
  words: readonly TimedWord[],
  playedMs: number,
): string | undefined {
  const lower = transcript.toLowerCase();
  let cursor = 0;
  let heard = 0;
  for (const word of words) {
    if (word.endMs > playedMs) break;
    const at = lower.indexOf(word.text.toLowerCase(), cursor);
    if (at < 0) return undefined;
    cursor = at + word.text.length;
    heard++;
  }
  if (heard === words.length && transcript.slice(cursor).trim().length <= 1) return transcript;
  return heard === 0 ? "" : `${transcript.slice(0, cursor).trimEnd()}…`;
}

export class CaptionComposer {
  readonly #sink: CaptionWriter;
  readonly #names: SpeakerNames;
  readonly #botName: string;
  readonly #turns = new Map<string, Turn>();
  readonly #turnOfAssistantItem = new Map<string, Turn>();
  #currentTurn: Turn | undefined;
  /** Whether speech now belongs to the current turn: between speech_started and speech_stopped. */
  #turnOpen = false;
  /**
   * Speakers heard while no turn was open, with when: server VAD reports a turn's start a few
   * hundred ms after its first words, so they belong to the next turn, not the one that ended.
   */
  readonly #pendingSpeakers = new Map<string, number>();

  constructor(sink: CaptionWriter, names: SpeakerNames, botName: string) {
    this.#sink = sink;
    this.#names = names;
    this.#botName = botName;
  }

  /** A user turn began (speech_started): later speech frames are attributed to it. */
  userTurnStarted(userItemId: string): void {
    const speakers = new Set<string>();
    const since = performance.now() - PENDING_SPEAKER_MS;
    for (const [speaker, at] of this.#pendingSpeakers) if (at >= since) speakers.add(speaker);
    this.#pendingSpeakers.clear();
    this.#turnOpen = true;
    const turn: Turn = {
      userItemId,
      speakers,
      userText: undefined,
      botText: undefined,
      interrupted: false,
      handle: undefined,
    };
    this.#turns.set(userItemId, turn);
    this.#currentTurn = turn;
    this.#forgetOldTurns();
  }

  /** The user turn ended (speech_stopped): later speech starts the next one. */
  userTurnEnded(): void {
    this.#turnOpen = false;
  }

  speakersHeard(speakers: readonly string[]): void {
    const turn = this.#currentTurn;
    if (turn !== undefined && this.#turnOpen) {
      for (const speaker of speakers) turn.speakers.add(speaker);
      return;
    }
    if (speakers.length === 0) return;
    const now = performance.now();
    for (const speaker of speakers) this.#pendingSpeakers.set(speaker, now);
  }

  userTranscript(userItemId: string, transcript: string): void {
    const turn = this.#turns.get(userItemId);
    if (turn === undefined || transcript.trim() === "") return;
    turn.userText = detachedPrefix(transcript.trim(), MAX_MESSAGE_LENGTH);
    this.#render(turn);
  }

  /** The assistant item that answers the current turn. */
  assistantItemStarted(assistantItemId: string): void {
    if (this.#currentTurn !== undefined) this.#turnOfAssistantItem.set(assistantItemId, this.#currentTurn);
  }

  assistantTranscript(assistantItemId: string, transcript: string, interrupted: boolean): void {
    const turn = this.#turnOfAssistantItem.get(assistantItemId);
    if (turn === undefined) return;
    turn.botText = detachedPrefix(transcript.trim(), MAX_MESSAGE_LENGTH);
    turn.interrupted = interrupted;
    this.#render(turn);
  }

  #render(turn: Turn): void {
    const lines: string[] = [];
    if (turn.userText !== undefined) {
      // Names are mentions (<@id>): Discord shows the member's name, and captions are posted with
      // mentions disabled, so nobody is pinged.
      const who = [...turn.speakers].map((id) => this.#names.nameOf(id)).join(", ") || "Someone";
      lines.push(`**${who}:** ${escapeMarkdown(turn.userText)}`);
    }
    if (turn.botText !== undefined && (turn.botText !== "" || turn.interrupted)) {
      const marker = turn.interrupted ? " _(interrupted)_" : "";
      lines.push(`**${escapeMarkdown(this.#botName)}:**${marker} ${escapeMarkdown(turn.botText)}`);
    }
    if (lines.length === 0) return;
    let text = scrubSecrets(lines.join("\n"));
    if (text.length > MAX_MESSAGE_LENGTH) text = `${text.slice(0, MAX_MESSAGE_LENGTH - 1)}…`;
    if (turn.handle === undefined) turn.handle = this.#sink.post(text);
    else {
      const handle = turn.handle;
      void handle.then((id) => (id === undefined ? undefined : this.#sink.edit(id, text)));
    }
  }

  #forgetOldTurns(): void {
    while (this.#turns.size > 20) {
      const oldest = this.#turns.keys().next().value;
      if (oldest === undefined) break;
      this.#turns.delete(oldest);
    }
    while (this.#turnOfAssistantItem.size > 20) {
      const oldest = this.#turnOfAssistantItem.keys().next().value;
      if (oldest === undefined) break;
      this.#turnOfAssistantItem.delete(oldest);
    }
  }
}

function escapeMarkdown(text: string): string {
  return text.replace(/([*_`~|\\>])/g, "\\$1").replace(/@(everyone|here)/g, "@\u200b$1");
}

/**
 * Serialises caption posts and edits with a minimum spacing, coalescing edits of the same message
 * to the latest text, so a chatty conversation stays inside Discord's per-channel rate limits
 * (5 messages per 5 s) without relying on 429 retries.
 */
export class CaptionWriter {
  readonly #sink: CaptionSink;
  readonly #minIntervalMs: number;
  readonly #onError: (error: unknown) => void;
  #chain: Promise<unknown> = Promise.resolve();
  #lastCallAt = Number.NEGATIVE_INFINITY;
  readonly #pendingEdits = new Map<string, string>();
  #pendingPosts = 0;
  #droppedPosts = 0;
  #closed = false;

  constructor(sink: CaptionSink, onError: (error: unknown) => void, minIntervalMs = 1100) {
    this.#sink = sink;
    this.#onError = onError;
    this.#minIntervalMs = minIntervalMs;
  }

  /** Posts dropped because too many were already waiting. */
  get droppedPosts(): number {
    return this.#droppedPosts;
  }

  post(text: string): Promise<string | undefined> {
    if (this.#pendingPosts >= MAX_PENDING_POSTS) {
      this.#droppedPosts++;
      return Promise.resolve(undefined);
    }
    this.#pendingPosts++;
    const result = this.#chain
      .then(() => this.#spaced(() => this.#sink.post(text)))
      .finally(() => this.#pendingPosts--);
    this.#chain = result.catch(() => undefined);
    return result.catch((error: unknown) => {
      this.#onError(error);
      return undefined;
    });
  }

  edit(handle: string, text: string): Promise<void> {
    const queued = this.#pendingEdits.has(handle);
    this.#pendingEdits.set(handle, text);
    if (queued) return Promise.resolve();
    const result = this.#chain.then(() =>
      this.#spaced(async () => {
        const latest = this.#pendingEdits.get(handle);
        this.#pendingEdits.delete(handle);
        if (latest !== undefined) await this.#sink.edit(handle, latest);
      }),
    );
    this.#chain = result.catch(() => undefined);
    return result.catch((error: unknown) => this.#onError(error));
  }

  /** Stops sending; queued calls resolve without reaching Discord. */
  close(): void {
    this.#closed = true;
  }

  async #spaced<T>(call: () => Promise<T>): Promise<T | undefined> {
    if (this.#closed) return undefined;
    const wait = this.#lastCallAt + this.#minIntervalMs - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if (this.#closed) return undefined;
    this.#lastCallAt = performance.now();
    return call();
  }
}
