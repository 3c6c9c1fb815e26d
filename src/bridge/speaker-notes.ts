/**
 * What the model is told about who is in the conversation: a note before each user turn, and the
 * roster in the instructions. Display names only, never ids or mentions; quoted so a name cannot
 * pass for an instruction.
 */

const MAX_NAME_LENGTH = 32;
// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
const UNQUOTABLE = /[\u0000-\u001f\u007f"“”]/g;

/** A name as the model reads it: printable, short, and quoted. */
export function quotedName(name: string): string {
  const clean = name.replace(UNQUOTABLE, "").trim().slice(0, MAX_NAME_LENGTH);
  return `"${clean === "" ? "someone" : clean}"`;
}

/** The system note before a user turn: who is speaking in it. */
export function speakerNote(names: readonly string[], joining: boolean): string {
  const list = names.map(quotedName).join(", ");
  return joining ? `Also speaking in this turn: ${list}.` : `Speaking in the next turn: ${list}.`;
}

/** The paragraph the persona's instructions end with while attribution is on. */
export function rosterParagraph(roster: readonly string[]): string {
  const people = roster.length === 0 ? "nobody else yet" : roster.map(quotedName).join(", ");
  return (
    "You are in a Discord voice channel with several people. Before each turn a system note names " +
    `who is speaking; use their names when it helps. In the channel now: ${people}.`
  );
}
