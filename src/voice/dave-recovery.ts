import type { VoiceConnection } from "@discordjs/voice";
import type { Logger } from "../log.ts";

/*
 * Watches DAVE decryption per speaker and rejoins the channel when a speaker stays undecryptable.
 * @discordjs/voice recovers from a bad commit or welcome itself (op 31 after 36 consecutive
 * failures), but not from everything: a session left re-initialising (its op 31 or key package
 * lost) passes DAVE frames through undecrypted and counts nothing, and the bot is deaf until it
 * leaves. A rejoin gets a fresh voice session and a fresh DAVE session; the conversation, and its
 * Voice Live session, carry on.
 */

/** dave-protocol "Protocol Frame Check": a DAVE frame ends with the 0xFAFA magic marker. */
export function isDaveFrame(packet: Uint8Array): boolean {
  const n = packet.length;
  return n > 2 && packet[n - 1] === 0xfa && packet[n - 2] === 0xfa;
}

/** The per-speaker receive counters the monitor reads (SpeakerReceiver's stats). */
export interface SpeakerDaveCounts {
  readonly userId: string;
  /** Frames that reached the decoder. */
  readonly framesReceived: number;
  /** DAVE frames the library handed over undecrypted (dropped before the decoder). */
  readonly daveUndecrypted: number;
}

export interface DaveRecoveryOptions {
  readonly connection: VoiceConnection;
  readonly speakers: () => readonly SpeakerDaveCounts[];
  /** A speaker has been undecryptable for `stuckMs`: rejoin (and tell the channel once). */
  readonly onStuck: (userId: string) => void;
  readonly pollMs?: number;
  /** Longer than the library's own recovery (36 frames, then a re-add: about 1-2 s). */
  readonly stuckMs?: number;
  /** No second rejoin within this time of the last one. */
  readonly cooldownMs?: number;
  readonly logger: Logger;
}

/** The narrow view of @discordjs/voice's internals this reads: the davey session's stats. */
interface DaveySessionView {
  getDecryptionStats(userId: string): { readonly failures: number } | null;
}
interface NetworkingView {
  readonly state: { readonly dave?: { readonly session?: DaveySessionView } };
}

interface Watch {
  /** Failures counted so far (library failures plus undecrypted frames), across sessions. */
  failures: number;
  lastLibraryFailures: number;
  lastUndecrypted: number;
  lastFrames: number;
  session: DaveySessionView | undefined;
  failingSince: number | undefined;
}

/** davey throws (NoDecryptorForUser) for a user it has no decryptor for yet: that is 0 failures. */
function libraryFailuresOf(session: DaveySessionView | undefined, userId: string): number {
  try {
    return session?.getDecryptionStats(userId)?.failures ?? 0;
  } catch {
    return 0;
  }
}

export class DaveRecovery {
  readonly #options: DaveRecoveryOptions;
  readonly #watches = new Map<string, Watch>();
  readonly #timer: NodeJS.Timeout;
  readonly #stuckMs: number;
  readonly #cooldownMs: number;
  #lastRecoveryAt = Number.NEGATIVE_INFINITY;
  #recoveryCount = 0;

  constructor(options: DaveRecoveryOptions) {
    this.#options = options;
    this.#stuckMs = options.stuckMs ?? 3_000;
    this.#cooldownMs = options.cooldownMs ?? 10_000;
    this.#timer = setInterval(() => this.poll(), options.pollMs ?? 250);
    this.#timer.unref();
  }

  /** DAVE decrypt failures per speaker since the conversation started. */
  failures(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [userId, watch] of this.#watches) out[userId] = watch.failures;
    return out;
  }

  get totalFailures(): number {
    let sum = 0;
    for (const watch of this.#watches.values()) sum += watch.failures;
    return sum;
  }

  /** Rejoins this monitor asked for. */
  get recoveries(): number {
    return this.#recoveryCount;
  }

  close(): void {
    clearInterval(this.#timer);
  }

  /** Reads the counters now (the timer does this every pollMs). */
  poll(now = performance.now()): void {
    const session = this.#daveySession();
    for (const speaker of this.#options.speakers()) {
      let watch = this.#watches.get(speaker.userId);
      if (watch === undefined) {
        watch = {
          failures: 0,
          lastLibraryFailures: 0,
          lastUndecrypted: 0,
          lastFrames: 0,
          session,
          failingSince: undefined,
        };
        this.#watches.set(speaker.userId, watch);
      }
      if (watch.session !== session) {
        // A new voice session (rejoin): davey's counters start again from zero.
        watch.session = session;
        watch.lastLibraryFailures = 0;
      }
      const libraryFailures = libraryFailuresOf(session, speaker.userId);
      // Counters restart when the receiver is rebuilt after a reconnect: a drop means a new baseline.
      const newLibrary = Math.max(0, libraryFailures - watch.lastLibraryFailures);
      const newUndecrypted = Math.max(0, speaker.daveUndecrypted - watch.lastUndecrypted);
      if (speaker.daveUndecrypted < watch.lastUndecrypted) watch.lastUndecrypted = 0;
      const heard = speaker.framesReceived !== watch.lastFrames;
      watch.lastLibraryFailures = libraryFailures;
      watch.lastUndecrypted = speaker.daveUndecrypted;
      watch.lastFrames = speaker.framesReceived;
      const failed = newLibrary + newUndecrypted;
      watch.failures += failed;
      if (heard || failed === 0) {
        // Decrypting again, or silent: nothing to recover from (yet).
        watch.failingSince = undefined;
        continue;
      }
      watch.failingSince ??= now;
      if (now - watch.failingSince >= this.#stuckMs && now - this.#lastRecoveryAt >= this.#cooldownMs) {
        this.#lastRecoveryAt = now;
        this.#recoveryCount++;
        watch.failingSince = undefined;
        this.#options.logger.warn(
          { userId: speaker.userId, failures: watch.failures },
          "DAVE decryption kept failing for a speaker; rejoining the voice channel",
        );
        this.#options.onStuck(speaker.userId);
      }
    }
  }

  #daveySession(): DaveySessionView | undefined {
    const state = this.#options.connection.state as { readonly networking?: NetworkingView };
    return state.networking?.state.dave?.session;
  }
}
