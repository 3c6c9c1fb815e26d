import type {
  Detach,
  PlaybackItem,
  SpeakerSource,
  VoiceChannelCounters,
  VoiceChannelEvents,
  VoiceChannelPort,
} from "../bridge/ports.ts";
import type { Logger } from "../log.ts";
import { TypedEmitter } from "../util/typed-emitter.ts";
import type { ManagedVoiceConnection, VoiceEnd } from "./connection.ts";
import { DaveRecovery } from "./dave-recovery.ts";
import { sharedEncoderWorker } from "./encoder-worker.ts";
import { OpusQueuePlayer } from "./opus-queue-player.ts";
import type { FrameTicket } from "./output-feeder.ts";
import { OutputPath } from "./output-path.ts";
import { type SpeakerPredicate, SpeakerReceiver } from "./speaker-receiver.ts";

/**
 * A guild's Discord voice channel as the bridge sees it: who is speaking (their frames already at
 * the session's input rate), the bot's output with the exact position it reached, and what
 * happens to the connection. Owns the receiver, the player and output path, and DAVE recovery.
 */

export interface DiscordVoiceChannelOptions {
  readonly voice: ManagedVoiceConnection;
  readonly inputRate: 24_000 | 16_000;
  readonly isAllowedSpeaker: SpeakerPredicate;
  /** Counts each speaker frame received (metrics). */
  readonly onSpeakerFrame?: () => void;
  readonly logger: Logger;
}

export class DiscordVoiceChannel extends TypedEmitter<VoiceChannelEvents> implements VoiceChannelPort {
  readonly #options: DiscordVoiceChannelOptions;
  readonly #voice: ManagedVoiceConnection;
  readonly #player: OpusQueuePlayer<FrameTicket>;
  readonly output: OutputPath;
  readonly #dave: DaveRecovery;
  readonly #detach: Detach[] = [];
  #receiver: SpeakerReceiver;
  #jitterDropsOfPastReceivers = 0;
  #closed = false;

  constructor(options: DiscordVoiceChannelOptions) {
    super();
    this.#options = options;
    this.#voice = options.voice;
    this.emitterLog = options.logger;
    this.#player = new OpusQueuePlayer<FrameTicket>({ logger: options.logger });
    this.#player.attach(options.voice.connection);
    this.output = new OutputPath({
      player: this.#player,
      encoder: (sink) => sharedEncoderWorker().open(sink),
      onFrameSent: this.#frameSent,
    });
    this.#receiver = this.#newReceiver();
    this.#dave = new DaveRecovery({
      connection: options.voice.connection,
      speakers: () => this.#receiver.stats(),
      onStuck: (userId) => this.#rejoinForDave(userId),
      logger: options.logger,
    });
    this.#wireConnection();
    this.#wireSpeaking();
  }

  get channelId(): string {
    return this.#voice.channelId;
  }

  get status(): string {
    return this.#voice.status;
  }

  get speakers(): readonly SpeakerSource[] {
    return this.#receiver.speakers;
  }

  counters(): VoiceChannelCounters {
    return {
      jitterDrops: this.#jitterDropsOfPastReceivers + this.#receiver.jitterDrops,
      outputDrops: this.output.droppedFrames,
      decodeErrors: this.#receiver.stats().reduce((sum, speaker) => sum + speaker.decodeErrors, 0),
      daveFailures: this.#dave.totalFailures,
      daveFailuresBySpeaker: this.#dave.failures(),
      daveRejoins: this.#dave.recoveries,
    };
  }

  hears(userId: string): boolean {
    return this.#receiver.hears(userId);
  }

  reconsiderSpeakers(): void {
    this.#jitterDropsOfPastReceivers += this.#receiver.jitterDrops;
    this.#receiver.close();
    this.#receiver = this.#newReceiver();
  }

  leave(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const detach of this.#detach) detach();
    this.#dave.close();
    this.#receiver.close();
    this.output.destroy();
    this.#player.destroy();
    this.#voice.leave(reason);
  }

  #newReceiver(): SpeakerReceiver {
    return new SpeakerReceiver({
      receiver: this.#voice.connection.receiver,
      isAllowed: this.#options.isAllowedSpeaker,
      inputRate: this.#options.inputRate,
      ...(this.#options.onSpeakerFrame === undefined ? {} : { onFrame: this.#options.onSpeakerFrame }),
      logger: this.#options.logger,
    });
  }

  readonly #frameSent = (item: PlaybackItem, audioReceivedAt: number): void => {
    this.emit("frameSent", item, audioReceivedAt);
  };

  #wireConnection(): void {
    const voice = this.#voice;
    this.#detach.push(
      voice.on("reconnecting", (info) => this.emit("reconnecting", info)),
      voice.on("ready", (info) => this.emit("ready", info)),
      voice.on("destroyed", (end: VoiceEnd) => {
        if (this.#closed) return;
        this.emit("ended", end);
      }),
    );
  }

  #wireSpeaking(): void {
    const speaking = this.#voice.connection.receiver.speaking;
    const onStart = (userId: string): void => {
      if (this.#receiver.hears(userId)) this.emit("speakingStarted", userId);
    };
    const onEnd = (): void => {
      if (speaking.users.size === 0) this.emit("silence");
    };
    speaking.on("start", onStart);
    speaking.on("end", onEnd);
    this.#detach.push(() => {
      speaking.off("start", onStart);
      speaking.off("end", onEnd);
    });
  }

  /**
   * A speaker stayed undecryptable after the library's own DAVE recovery: rejoin for a fresh voice
   * and DAVE session. The Voice Live session is untouched, so the conversation goes on.
   */
  #rejoinForDave(userId: string): void {
    if (this.#closed) return;
    this.#voice.rejoin();
    this.emit("daveRejoined", userId);
  }
}
