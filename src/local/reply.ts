/**
 * What the local server "says": deterministic audio and transcript built from what it was asked to
 * answer, so tests can compare what went in with what came out. There is no language model here.
 *   echo: the user's own audio, converted to the output rate.
 *   tone: a 440 Hz tone as long as the user's audio.
 * Text (a typed user message, or a pre-generated assistant message spoken verbatim) becomes a tone
 * whose length follows the text.
 */
import { convertSampleRate } from "../audio/rate-convert.ts";

export type ReplyMode = "echo" | "tone";

export type ReplySource =
  | { readonly kind: "audio"; readonly pcm: Int16Array; readonly sampleRate: number }
  | { readonly kind: "text"; readonly text: string }
  /** A pre-generated assistant message: its text is the transcript. */
  | { readonly kind: "scripted"; readonly text: string }
  /** The output of a function call the client ran: the reply talks about it. */
  | { readonly kind: "tool"; readonly output: string }
  | { readonly kind: "none" };

export interface Reply {
  /** Mono PCM16 at the output rate. */
  readonly pcm: Int16Array;
  readonly transcript: string;
}

export const TONE_HZ = 440;
/** About -12 dBFS: clearly audible, far from clipping after any resampling. */
const TONE_AMPLITUDE = 8000;
const TONE_FADE_MS = 10;
const MS_PER_TEXT_CHAR = 60;
const MIN_TEXT_REPLY_MS = 500;
const MAX_TEXT_REPLY_MS = 8000;
const NO_SOURCE_REPLY_MS = 1000;

export function composeReply(mode: ReplyMode, source: ReplySource, outputRate: number): Reply {
  switch (source.kind) {
    case "audio": {
      const seconds = formatSeconds((source.pcm.length / source.sampleRate) * 1000);
      if (mode === "echo") {
        return {
          pcm: convertSampleRate(source.pcm, source.sampleRate, outputRate),
          transcript: `(echo of ${seconds} s)`,
        };
      }
      const samples = Math.round((source.pcm.length * outputRate) / source.sampleRate);
      return { pcm: tone(samples, outputRate), transcript: `(tone for ${seconds} s)` };
    }
    case "text":
      return {
        pcm: toneForText(source.text, outputRate),
        transcript: `(local reply to: ${source.text.slice(0, 200)})`,
      };
    case "scripted":
      return { pcm: toneForText(source.text, outputRate), transcript: source.text };
    case "tool":
      return {
        pcm: toneForText(source.output, outputRate),
        transcript: `(local reply to the tool's output: ${source.output.slice(0, 200)})`,
      };
    case "none":
      return { pcm: tone((NO_SOURCE_REPLY_MS * outputRate) / 1000, outputRate), transcript: "(local reply)" };
  }
}

function formatSeconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}

function toneForText(text: string, rate: number): Int16Array {
  const ms = Math.min(MAX_TEXT_REPLY_MS, Math.max(MIN_TEXT_REPLY_MS, text.length * MS_PER_TEXT_CHAR));
  return tone((ms * rate) / 1000, rate);
}

/** A sine at {@link TONE_HZ} with short raised-cosine fades, so it starts and ends without a click. */
export function tone(samples: number, rate: number): Int16Array {
  const out = new Int16Array(Math.round(samples));
  const fade = Math.min(Math.round((TONE_FADE_MS * rate) / 1000), out.length >> 1);
  const step = (2 * Math.PI * TONE_HZ) / rate;
  for (let i = 0; i < out.length; i++) {
    const edge = Math.min(i, out.length - 1 - i);
    const gain = edge < fade ? 0.5 - 0.5 * Math.cos((Math.PI * edge) / fade) : 1;
    out[i] = Math.round(TONE_AMPLITUDE * gain * Math.sin(step * i));
  }
  return out;
}
