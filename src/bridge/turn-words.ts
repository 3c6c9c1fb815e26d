/**
 * What a user turn's transcript says about turn-taking, from the words alone: whether it is only a
 * backchannel ("mm-hmm", "go on") that lets the bot continue, and whether it addresses the bot by
 * name. Pure functions over text; the bridge decides what to do with the answers.
 */

/**
 * Backchannels per language (the primary subtag of the transcription language). A turn made only
 * of these (in any order, repeated) lets the bot go on. Unknown languages use English and the
 * language-neutral sounds.
 */
const BACKCHANNELS: Readonly<Record<string, readonly string[]>> = {
  en: [
    "mm hmm",
    "mhm",
    "uh huh",
    "yeah",
    "yep",
    "yes",
    "okay",
    "ok",
    "right",
    "sure",
    "go on",
    "i see",
    "got it",
    "cool",
    "nice",
    "wow",
    "really",
    "true",
    "exactly",
  ],
  fr: ["oui", "ouais", "d accord", "ok", "vas y", "je vois", "exactement", "c est vrai", "ah bon"],
  de: ["ja", "genau", "okay", "stimmt", "aha", "alles klar", "richtig", "echt"],
  es: ["sí", "si", "vale", "claro", "ajá", "ya", "exacto", "de acuerdo", "sigue"],
  it: ["sì", "si", "certo", "ok", "esatto", "vai", "capito", "davvero"],
  pt: ["sim", "tá", "ta", "certo", "claro", "entendi", "exato", "pois"],
  nl: ["ja", "oké", "oke", "precies", "klopt", "juist"],
  ja: ["はい", "うん", "ええ", "なるほど", "そうですね", "そう"],
};

/** Sounds that carry no words in any language. */
const NEUTRAL = ["mm", "mmm", "hm", "hmm", "uh", "um", "ah", "oh", "huh", "eh", "ha", "haha"];

/** Lower case, accents kept, punctuation and apostrophes to spaces, hyphenated sounds split. */
export function normalizeWords(text: string): string[] {
  return text
    .toLowerCase()
    .normalize("NFC")
    .replace(/[^\p{L}\p{N}]+/gu, " ")
    .trim()
    .split(" ")
    .filter((word) => word.length > 0);
}

function phrasesFor(language: string | null): readonly string[][] {
  const primary = language?.split(/[-_,]/)[0]?.toLowerCase() ?? "en";
  const phrases = [
    ...(BACKCHANNELS[primary] ?? []),
    ...(primary === "en" ? [] : BACKCHANNELS.en!),
    ...NEUTRAL,
  ];
  return phrases.map((phrase) => phrase.split(" "));
}

/** True when the transcript has no words, or only backchannel phrases: the bot may go on. */
export function isBackchannel(transcript: string, language: string | null): boolean {
  const words = normalizeWords(transcript);
  if (words.length === 0) return true;
  const phrases = phrasesFor(language);
  let at = 0;
  while (at < words.length) {
    const match = phrases.find((phrase) => phrase.every((word, i) => words[at + i] === word));
    if (match === undefined) return false;
    at += match.length;
  }
  return true;
}

/** Words said before or after a name that do not make the turn more than the name. */
const CALL_WORDS = new Set([
  "hey",
  "hi",
  "hello",
  "ok",
  "okay",
  "yo",
  "excuse",
  "me",
  "please",
  "so",
  "um",
  "uh",
]);

/** Edit distance, for recognition errors in a name ("Nova" heard as "Noah"). */
function editDistance(a: string, b: string): number {
  const previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = previous[0]!;
    previous[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = previous[j]!;
      previous[j] = Math.min(above + 1, previous[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return previous[b.length]!;
}

/** Names up to 4 letters must be heard exactly; longer ones may have one error per 4 letters. */
function sameName(heard: string, name: string): boolean {
  if (heard === name) return true;
  if (name.length <= 4) return false;
  return editDistance(heard, name) <= Math.floor(name.length / 4);
}

/** Where the name's words occur in the transcript's words: [start, end) spans. */
function nameSpans(words: readonly string[], name: readonly string[]): [number, number][] {
  const spans: [number, number][] = [];
  if (name.length === 0) return spans;
  const joined = name.join("");
  for (let at = 0; at < words.length; at++) {
    if (name.every((part, i) => words[at + i] !== undefined && sameName(words[at + i]!, part))) {
      spans.push([at, at + name.length]);
    } else if (name.length > 1 && words[at] !== undefined && sameName(words[at]!, joined)) {
      // "Sky Bot" recognised as "skybot".
      spans.push([at, at + 1]);
    } else if (
      name.length === 1 &&
      words[at + 1] !== undefined &&
      sameName(words[at]! + words[at + 1]!, joined)
    ) {
      // "Voicelive" recognised as "voice live".
      spans.push([at, at + 2]);
    }
  }
  return spans;
}

export interface Addressing {
  /** The name occurs in the turn (fuzzy). */
  readonly named: boolean;
  /** The turn is the name and nothing else that carries meaning ("Nova?", "hey Nova"). */
  readonly nameOnly: boolean;
}

export function addressing(transcript: string, wakeName: string): Addressing {
  const words = normalizeWords(transcript);
  const spans = nameSpans(words, normalizeWords(wakeName));
  if (spans.length === 0) return { named: false, nameOnly: false };
  const rest = words.filter(
    (word, i) => !spans.some(([from, to]) => i >= from && i < to) && !CALL_WORDS.has(word),
  );
  return { named: true, nameOnly: rest.length === 0 };
}
