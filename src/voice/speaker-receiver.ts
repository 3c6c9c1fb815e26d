import { performance } from "node:perf_hooks";
import {
  type AudioReceiveStream,
  type VoiceConnectionState,
  VoiceConnectionStatus,
  type VoiceReceiver,
  type VoiceUserData,
} from "@discordjs/voice";
import type { SpeakerSource } from "../bridge/ports.ts";
import { type Logger, log } from "../log.ts";
import { isDaveFrame } from "./dave-recovery.ts";
import { Speaker } from "./speaker.ts";

/** Whether a user may be heard (not a bot, allowed by the guild's policy). Asked once per user. */
export type SpeakerPredicate = (userId: string) => boolean | Promise<boolean>;

export interface SpeakerStats {
  readonly userId: string;
  readonly framesReceived: number;
  /** Packets the decoder could not turn into a frame (each became 20 ms of silence). */
  readonly decodeErrors: number;
  /** Receive streams lost to a packet the library could not decrypt (each is resubscribed). */
  readonly streamErrors: number;
  /** DAVE frames the library passed on undecrypted (its session not ready): dropped, not decoded. */
  readonly daveUndecrypted: number;
}

export interface SpeakerReceiverOptions {
  readonly receiver: VoiceReceiver;
  readonly isAllowed: SpeakerPredicate;
  /** The session's input rate: every speaker's frames are resampled to it. */
  readonly inputRate: 24_000 | 16_000;
  /** Told after each frame reaches a speaker's ring (metrics count them; tests take them out). */
  readonly onFrame?: (speaker: SpeakerSource) => void;
  readonly logger?: Logger;
}

type Decision = boolean | "pending";

/** Packets kept while an async allow decision is pending (500 ms): a first sentence is not clipped. */
const MAX_HELD_PACKETS = 25;

/**
 * Turns a voice connection's per-user Opus streams into each speaker's queue of frames at the input
 * rate, one `Speaker` per person listened to, freed when they leave the channel.
 * A user is subscribed synchronously inside the receiver's speaking "start" handler, which the
 * library fires before it looks up subscriptions, so the first packet is kept. A stream that closes
 * (the library destroys it when a packet fails to decrypt) is replaced at once.
 */
export class SpeakerReceiver {
  readonly #receiver: VoiceReceiver;
  readonly #isAllowed: SpeakerPredicate;
  readonly #inputRate: 24_000 | 16_000;
  readonly #onFrame: ((speaker: SpeakerSource) => void) | undefined;
  readonly #logger: Logger;
  readonly #speakers = new Map<string, Speaker>();
  /** The same speakers as an array, so the mixer walks them every tick without an iterator. */
  readonly #list: Speaker[] = [];
  #jitterDropsOfGone = 0;
  readonly #decisions = new Map<string, Decision>();
  #closed = false;

  constructor(options: SpeakerReceiverOptions) {
    this.#receiver = options.receiver;
    this.#isAllowed = options.isAllowed;
    this.#inputRate = options.inputRate;
    this.#onFrame = options.onFrame;
    this.#logger = (options.logger ?? log).child({
      guildId: options.receiver.voiceConnection.joinConfig.guildId,
      component: "speaker-receiver",
    });
    this.#receiver.speaking.on("start", this.#onSpeakingStart);
    this.#receiver.ssrcMap.on("delete", this.#onUserLeft);
    this.#receiver.voiceConnection.on("stateChange", this.#onConnectionState);
  }

  /** Everyone listened to now (including those whose allow decision is pending, with empty rings). */
  get speakers(): readonly SpeakerSource[] {
    return this.#list;
  }

  /** Frames lost in jitter rings, since this receiver started (speakers who left included). */
  get jitterDrops(): number {
    let dropped = this.#jitterDropsOfGone;
    for (const speaker of this.#list) dropped += speaker.ring.dropped;
    return dropped;
  }

  /** Per-speaker counters, for /status and diagnostics. */
  stats(): SpeakerStats[] {
    return [...this.#speakers.values()].map((speaker) => ({
      userId: speaker.userId,
      framesReceived: speaker.framesReceived,
      decodeErrors: speaker.decodeErrors,
      streamErrors: speaker.streamErrors,
      daveUndecrypted: speaker.daveUndecrypted,
    }));
  }

  /** Whether this user's speech is being listened to (allowed by the predicate). */
  hears(userId: string): boolean {
    return this.#decisions.get(userId) === true;
  }

  /** Stops hearing a user and frees their decoder; forgets the allow decision so it is asked again. */
  #dropSpeaker(userId: string): void {
    this.#decisions.delete(userId);
    const speaker = this.#speakers.get(userId);
    if (speaker !== undefined) this.#forgetSpeaker(speaker);
  }

  #forgetSpeaker(speaker: Speaker): void {
    this.#speakers.delete(speaker.userId);
    this.#list.splice(this.#list.indexOf(speaker), 1);
    this.#jitterDropsOfGone += speaker.ring.dropped;
    const stream = speaker.stream;
    speaker.stream = undefined;
    if (stream !== undefined) {
      stream.off("data", speaker.onData);
      stream.destroy();
    }
    speaker.destroy();
  }

  /** Stops listening and frees every decoder. Called by itself when the connection is destroyed. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#receiver.speaking.off("start", this.#onSpeakingStart);
    this.#receiver.ssrcMap.off("delete", this.#onUserLeft);
    this.#receiver.voiceConnection.off("stateChange", this.#onConnectionState);
    for (const userId of [...this.#speakers.keys()]) this.#dropSpeaker(userId);
  }

  readonly #onSpeakingStart = (userId: string): void => {
    const decision = this.#decisions.get(userId);
    if (decision === true) {
      this.#subscribe(userId);
      return;
    }
    if (decision !== undefined) return;
    let verdict: boolean | Promise<boolean>;
    try {
      verdict = this.#isAllowed(userId);
    } catch (error) {
      this.#logger.warn({ err: error, userId }, "speaker check failed; not listening to this user for now");
      return;
    }
    if (typeof verdict === "boolean") {
      this.#decide(userId, verdict);
      return;
    }
    this.#decisions.set(userId, "pending");
    // Listen already, holding the packets, so the decision's round trip does not clip the first words.
    this.#subscribe(userId);
    verdict.then(
      (allowed) => this.#decide(userId, allowed),
      (error: unknown) => {
        this.#decisions.delete(userId);
        this.#logger.warn({ err: error, userId }, "speaker check failed; not listening to this user for now");
      },
    );
  };

  #decide(userId: string, allowed: boolean): void {
    if (this.#closed) return;
    this.#decisions.set(userId, allowed);
    const speaker = this.#speakers.get(userId);
    if (!allowed) {
      if (speaker !== undefined) this.#forgetSpeaker(speaker);
      return;
    }
    this.#subscribe(userId);
    if (speaker === undefined) return;
    for (let i = 0; i < speaker.held.length; i++)
      this.#deliver(speaker, speaker.held[i]!, speaker.heldAt[i]!);
    speaker.held.length = 0;
    speaker.heldAt.length = 0;
  }

  #subscribe(userId: string): void {
    let speaker = this.#speakers.get(userId);
    if (speaker === undefined) {
      speaker = new Speaker(userId, this.#inputRate, this.#handlePacket);
      this.#speakers.set(userId, speaker);
      this.#list.push(speaker);
    }
    // subscribe() hands back the live stream if there is one (ignoring options), else a new one.
    const stream = this.#receiver.subscribe(userId);
    if (stream === speaker.stream) return;
    speaker.stream = stream;
    stream.on("data", speaker.onData);
    const current = speaker;
    stream.once("error", (error) => {
      current.streamErrors++;
      this.#logger.warn({ err: error, userId }, "voice receive stream failed; resubscribing");
    });
    stream.once("close", () => this.#onStreamClosed(current, stream));
  }

  #onStreamClosed(speaker: Speaker, stream: AudioReceiveStream): void {
    stream.off("data", speaker.onData);
    if (speaker.stream !== stream) return;
    speaker.stream = undefined;
    const connectionLive = this.#receiver.voiceConnection.state.status !== VoiceConnectionStatus.Destroyed;
    if (!this.#closed && connectionLive && this.#speakers.get(speaker.userId) === speaker)
      this.#subscribe(speaker.userId);
  }

  readonly #handlePacket = (speaker: Speaker, packet: Buffer): void => {
    const receivedAt = performance.now();
    if (isDaveFrame(packet)) {
      // Ciphertext would decode to noise or an error: count it for DaveRecovery and drop it.
      speaker.daveUndecrypted++;
      return;
    }
    speaker.framesReceived++;
    if (this.#decisions.get(speaker.userId) === "pending") {
      if (speaker.held.length === MAX_HELD_PACKETS) {
        speaker.held.shift();
        speaker.heldAt.shift();
      }
      speaker.held.push(packet);
      speaker.heldAt.push(receivedAt);
      return;
    }
    this.#deliver(speaker, packet, receivedAt);
  };

  #deliver(speaker: Speaker, packet: Buffer, receivedAt: number): void {
    try {
      speaker.accept(packet, receivedAt);
      this.#onFrame?.(speaker);
    } catch (error) {
      // A throw here would reach the library's receive loop, which destroys the stream.
      if (speaker.handlerErrors++ === 0)
        this.#logger.error({ err: error, userId: speaker.userId }, "frame handler threw");
    }
  }

  readonly #onUserLeft = (data: VoiceUserData): void => {
    this.#dropSpeaker(data.userId);
  };

  readonly #onConnectionState = (_old: VoiceConnectionState, state: VoiceConnectionState): void => {
    if (state.status === VoiceConnectionStatus.Destroyed) this.close();
  };
}
