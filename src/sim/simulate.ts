/**
 * `npm run simulate -- --input <wav> [options]`: the whole bot path in one process without Discord.
 * A simulated user speaks the WAV into a loopback Discord voice channel in real time; the real
 * @discordjs/voice client, the Conversation and a Voice Live backend (the local echo server, or
 * Azure with `--backend azure` and the configured endpoint) answer; what Voice Live heard, what the
 * bot played and the timing figures are written out. Nothing goes to stdout; the summary and any
 * log lines (LOG_LEVEL, default warn) go to stderr. Exit: 0 done, 1 the run failed, 2 bad usage,
 * input or configuration, 130/143 stopped by SIGINT/SIGTERM (nothing written then).
 *
 * Timeline: every time in the report and the --output WAV counts from the moment the first frame of
 * --input was sent into the channel. The bot's packets are placed on that timeline by capture time:
 * packet k goes to 20 ms slot max(round(capturedAt_k / 20 ms), slot_{k−1} + 1), so the silence
 * between turns stays silence, a burst stays contiguous despite timer jitter, and the output lines
 * up with the input.
 */
import { access, constants, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { FRAME_MS, FRAME_SAMPLES_48K_STEREO } from "../audio/constants.ts";
import { OpusFrameDecoder } from "../audio/opus.ts";
import { readWav, WavError, writeWav } from "../audio/wav.ts";
import type { LatencyFigures } from "../bridge/types.ts";
import { type Config, ConfigError, type InputSampleRate, loadConfig } from "../config.ts";
import { createLogger, type Logger, setRootLogger } from "../log.ts";
import { Metrics } from "../metrics/metrics.ts";
import { startMetricsServer } from "../metrics/server.ts";
import { defaultPersona, type Persona } from "../persona.ts";
import { decodePersona } from "../store/decode.ts";
import { startMemberChurn } from "./dave/churn.ts";
import {
  type BargeInFigures,
  bargeInFigures,
  discordFramesFromWav,
  type HarnessBackend,
  lastSentAt,
  lastSpeechFrame,
  outputLatency,
  type SimGuild,
  SimHarness,
  type SpeechRun,
} from "./harness.ts";
import type { BotPacket } from "./voice-server.ts";

const USAGE = `Usage: npm run simulate -- --input <wav> [options]

  --input <wav>             what a user says: any PCM16 WAV (any rate, mono or stereo)
  --output <wav>            write what the bot played into the channel (48 kHz stereo, on the run's timeline)
  --heard <wav>             write exactly the audio appended to Voice Live (mono, at the input rate)
  --report <json>           write the figures as JSON (a summary always goes to stderr)
  --backend local|azure     local: the built-in echo server (default); azure: AZURE_VOICELIVE_* settings
  --interrupt-with <wav>    a second user starts speaking this WAV while the bot answers
  --interrupt-at-ms <n>     ... n ms after the bot's first audio packet (default 1000)
  --idle-ms <n>             keep the channel open n ms after the last input ends, and while the bot
                            is still answering (default 3000)
  --persona <json|file>     persona fields to apply, as /persona sets them (inline JSON or a file)
  --input-rate 24000|16000  audio rate sent to Voice Live (default VOICELIVE_INPUT_SAMPLE_RATE or 24000)
  --dave on|off             DAVE end-to-end encryption in the voice channel (default on, as Discord requires)
  --member-churn-ms <n>     a third user joins, and leaves, every n ms, so DAVE epochs change mid-answer`;

const DEFAULT_INTERRUPT_AT_MS = 1000;
const DEFAULT_IDLE_MS = 3000;
/** How long the bot may keep answering past the idle time before the run gives up on it. */
const MAX_ANSWER_MS = 120_000;
/** A user turn the service has not answered after this long is not waited for any more. */
const RESPONSE_WAIT_MS = 15_000;
/** How long to wait for the bot's first audio before giving up on an interruption. */
const FIRST_AUDIO_WAIT_MS = 30_000;
/** After the bot goes quiet: the last prepared packet and the library's trailing silence. */
const SETTLE_MS = 120;
const POLL_MS = 20;
/** Signals' exit codes; the run must be gone within 5 s of one. */
const SIGNAL_EXIT: Readonly<Record<string, number>> = { SIGINT: 130, SIGTERM: 143 };
const SIGNAL_DEADLINE_MS = 4_500;
/** The service answers a cancel of a response it already cancelled itself (interrupt_response). */
const BENIGN_ERROR_CODES = new Set(["response_cancel_not_active"]);

/** A problem with the command line (shown with the usage) or its files and settings (not). */
class UsageError extends Error {
  readonly showUsage: boolean;

  constructor(message: string, showUsage = false) {
    super(message);
    this.showUsage = showUsage;
  }
}

interface Options {
  readonly backend: "local" | "azure";
  readonly input: string;
  readonly output: string | undefined;
  readonly heard: string | undefined;
  readonly report: string | undefined;
  readonly interruptWith: string | undefined;
  readonly interruptAtMs: number;
  readonly idleMs: number;
  readonly persona: string | undefined;
  readonly inputRate: InputSampleRate | undefined;
  readonly dave: boolean;
  readonly memberChurnMs: number | undefined;
}

interface Setup {
  readonly options: Options;
  readonly backend: HarnessBackend;
  readonly inputRate: InputSampleRate;
  readonly persona: Persona;
  readonly input: Int16Array[];
  readonly interruption: Int16Array[] | undefined;
  readonly logger: Logger;
  readonly metricsPort: number | undefined;
}

interface RunResult {
  readonly guild: SimGuild;
  readonly input: SpeechRun;
  readonly interruption: SpeechRun | undefined;
  readonly bridgeInputLatencyMs: LatencyFigures | undefined;
  readonly endedAt: number;
  readonly problems: string[];
  readonly dave: DaveFigures;
}

/** DAVE over the run: the voice server's group and capture, plus the bot's own count. */
interface DaveFigures {
  /** 1 with DAVE, 0 with --dave off. */
  readonly protocolVersion: number;
  /** Commits, each a new MLS epoch. */
  readonly epochs: number;
  /** Transitions executed. */
  readonly transitions: number;
  /** Frames lost to DAVE decryption: by the bot (users' speech) and by the channel (the bot's). */
  readonly decryptFailures: number;
  /** op 31 re-adds, re-added newcomers, and the bot's rejoins. */
  readonly recoveries: number;
  /** Joins and leaves by --member-churn-ms. */
  readonly memberChanges: number;
}

function parseOptions(argv: readonly string[]): Options | "help" {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        input: { type: "string" },
        output: { type: "string" },
        heard: { type: "string" },
        report: { type: "string" },
        backend: { type: "string" },
        "interrupt-with": { type: "string" },
        "interrupt-at-ms": { type: "string" },
        "idle-ms": { type: "string" },
        persona: { type: "string" },
        "input-rate": { type: "string" },
        dave: { type: "string" },
        "member-churn-ms": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message, true);
  }
  if (values.help === true) return "help";
  const text = (name: string): string | undefined => {
    const value = values[name];
    if (typeof value !== "string") return undefined;
    if (value.trim() === "") throw new UsageError(`--${name} must not be empty`, true);
    return value;
  };
  const input = text("input");
  if (input === undefined) throw new UsageError("--input <wav> is required", true);
  const backend = text("backend") ?? "local";
  if (backend !== "local" && backend !== "azure")
    throw new UsageError("--backend must be local or azure", true);
  const milliseconds = (name: string, fallback: number): number => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    if (!/^\d{1,7}$/.test(raw))
      throw new UsageError(`--${name} must be a whole number of milliseconds`, true);
    return Number(raw);
  };
  const interruptWith = text("interrupt-with");
  if (interruptWith === undefined && values["interrupt-at-ms"] !== undefined)
    throw new UsageError("--interrupt-at-ms needs --interrupt-with", true);
  const dave = text("dave") ?? "on";
  if (dave !== "on" && dave !== "off") throw new UsageError("--dave must be on or off", true);
  const churn = text("member-churn-ms");
  const memberChurnMs = churn === undefined ? undefined : milliseconds("member-churn-ms", 0);
  if (memberChurnMs !== undefined && memberChurnMs < 100)
    throw new UsageError("--member-churn-ms must be at least 100", true);
  const rate = text("input-rate");
  if (rate !== undefined && rate !== "24000" && rate !== "16000")
    throw new UsageError("--input-rate must be 24000 or 16000", true);
  return {
    backend,
    input,
    output: text("output"),
    heard: text("heard"),
    report: text("report"),
    interruptWith,
    interruptAtMs: milliseconds("interrupt-at-ms", DEFAULT_INTERRUPT_AT_MS),
    idleMs: milliseconds("idle-ms", DEFAULT_IDLE_MS),
    persona: text("persona"),
    inputRate: rate === undefined ? undefined : rate === "16000" ? 16_000 : 24_000,
    dave: dave === "on",
    memberChurnMs,
  };
}

function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EISDIR") return "is a directory";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  return (error as Error).message;
}

async function readSpeech(flag: string, path: string): Promise<Int16Array[]> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new UsageError(`${flag} ${path}: ${describeFsError(error)}`);
  }
  let frames: Int16Array[];
  try {
    frames = discordFramesFromWav(readWav(bytes));
  } catch (error) {
    if (error instanceof WavError || error instanceof RangeError)
      throw new UsageError(`${flag} ${path}: ${error.message}`);
    throw error;
  }
  if (frames.length === 0) throw new UsageError(`${flag} ${path}: the WAV holds no audio`);
  return frames;
}

/** Persona fields as /persona sets them, checked by the same rules; problems name the field. */
async function readPersona(source: string, base: Persona): Promise<Persona> {
  let json = source;
  if (!source.trimStart().startsWith("{")) {
    try {
      json = await readFile(source, "utf8");
    } catch (error) {
      throw new UsageError(`--persona ${source}: ${describeFsError(error)}`);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    throw new UsageError(`--persona: not valid JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new UsageError("--persona: must be a JSON object of persona fields");
  const record = parsed as Record<string, unknown>;
  const unknown = Object.keys(record).filter((key) => !(key in base));
  const turnDetection = record.turnDetection;
  if (typeof turnDetection === "object" && turnDetection !== null && !Array.isArray(turnDetection)) {
    for (const key of Object.keys(turnDetection))
      if (!(key in base.turnDetection)) unknown.push(`turnDetection.${key}`);
  }
  if (unknown.length > 0) {
    throw new UsageError(
      `--persona: unknown field(s) ${unknown.join(", ")} (fields: ${Object.keys(base).join(", ")}; ` +
        `turnDetection: ${Object.keys(base.turnDetection).join(", ")})`,
    );
  }
  const decoded = decodePersona(json, base);
  if (!decoded.ok) throw new UsageError(`--persona: ${decoded.problem.replace(/^persona:\s*/, "")}`);
  return decoded.value;
}

async function checkWritable(flag: string, path: string | undefined): Promise<void> {
  if (path === undefined) return;
  const directory = dirname(resolve(path));
  try {
    await access(directory, constants.W_OK);
  } catch (error) {
    throw new UsageError(`${flag} ${path}: cannot write into ${directory}: ${describeFsError(error)}`);
  }
}

function loadEnvironment(): Config {
  try {
    return loadConfig(process.env, { discordToken: false });
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
}

async function prepare(options: Options): Promise<Setup> {
  const config = loadEnvironment();
  let backend: HarnessBackend = { kind: "local" };
  if (options.backend === "azure") {
    if (config.azure === undefined) {
      throw new UsageError(
        "--backend azure needs AZURE_VOICELIVE_ENDPOINT (with AZURE_VOICELIVE_API_KEY, or an Entra ID " +
          "sign-in such as az login) in the environment or .env",
      );
    }
    backend = {
      kind: "azure",
      azure: config.azure,
      connectionsPerMinute: config.voiceLive.connectionsPerMinute,
    };
  }
  const base = defaultPersona({
    instructions: config.persona.defaultInstructions,
    voice: config.persona.defaultVoice,
  });
  const persona = options.persona === undefined ? base : await readPersona(options.persona, base);
  const input = await readSpeech("--input", options.input);
  const interruption =
    options.interruptWith === undefined
      ? undefined
      : await readSpeech("--interrupt-with", options.interruptWith);
  await checkWritable("--output", options.output);
  await checkWritable("--heard", options.heard);
  await checkWritable("--report", options.report);
  const logger = createLogger({
    level: process.env.LOG_LEVEL === undefined ? "warn" : config.logLevel,
    destination: pino.destination(2),
  });
  setRootLogger(logger);
  return {
    options,
    backend,
    inputRate: options.inputRate ?? config.voiceLive.inputSampleRate,
    persona,
    input,
    interruption,
    logger,
    metricsPort: config.metricsPort,
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal.addEventListener("abort", done, { once: true });
  });
}

/** The bot is answering: playing, or a user turn has ended (or is open) without its response done. */
function botBusy(guild: SimGuild, now: number): boolean {
  if (guild.status()?.botSpeaking === true) return true;
  const { speechStarted, speechStopped, responses } = guild.record;
  const started = speechStarted.at(-1) ?? Number.NEGATIVE_INFINITY;
  const stopped = speechStopped.at(-1) ?? Number.NEGATIVE_INFINITY;
  const done = responses.at(-1)?.at ?? Number.NEGATIVE_INFINITY;
  if (started > stopped && now - started < RESPONSE_WAIT_MS) return true;
  return stopped > done && now - stopped < RESPONSE_WAIT_MS;
}

/** Waits until `notBefore` and until the bot has finished answering; reports what cut it short. */
async function waitForQuiet(
  guild: SimGuild,
  notBefore: number,
  signal: AbortSignal,
  problems: string[],
): Promise<void> {
  const giveUpAt = notBefore + MAX_ANSWER_MS;
  while (!signal.aborted) {
    const now = performance.now();
    if (!guild.active) {
      problems.push("the conversation ended before the run did (see notices)");
      return;
    }
    if (now >= notBefore && !botBusy(guild, now)) break;
    if (now >= giveUpAt) {
      problems.push(`the bot was still answering ${MAX_ANSWER_MS / 1000} s after the idle time; stopped`);
      return;
    }
    await sleep(POLL_MS, signal);
  }
  await sleep(SETTLE_MS, signal);
}

async function interrupt(
  setup: Setup,
  guild: SimGuild,
  userId: string,
  after: number,
  signal: AbortSignal,
  problems: string[],
): Promise<SpeechRun | undefined> {
  const frames = setup.interruption;
  if (frames === undefined) return undefined;
  const firstAudio = await guild.waitForBotAudio(after, FIRST_AUDIO_WAIT_MS, signal);
  if (firstAudio === undefined) {
    if (!signal.aborted) problems.push("the bot never spoke, so nobody interrupted it");
    return undefined;
  }
  await sleep(firstAudio + setup.options.interruptAtMs - performance.now(), signal);
  if (signal.aborted) return undefined;
  return guild.speak(userId, { pcm: frames }, { signal });
}

async function run(setup: Setup, signal: AbortSignal): Promise<RunResult> {
  const metrics = setup.metricsPort === undefined ? undefined : new Metrics({ processMetrics: true });
  const harness = await SimHarness.start({
    discord: true,
    backend: setup.backend,
    inputRate: setup.inputRate,
    logger: setup.logger,
    dave: setup.options.dave,
    ...(metrics === undefined ? {} : { metrics }),
  });
  const metricsServer =
    metrics === undefined || setup.metricsPort === undefined
      ? undefined
      : await startMetricsServer(
          metrics,
          () => ({ ok: true, details: { conversations: harness.manager.size, backend: harness.backend } }),
          setup.metricsPort,
          setup.logger,
        );
  try {
    const guild = await harness.join({ persona: setup.persona });
    // The member who ran /join asks the question.
    const speaker = await guild.addUser(guild.initiatorId);
    const interrupter = setup.interruption === undefined ? undefined : await guild.addUser();
    const problems: string[] = [];
    const churn =
      setup.options.memberChurnMs === undefined
        ? undefined
        : startMemberChurn(guild, setup.options.memberChurnMs);
    const startedAt = performance.now();
    const speaking = guild.speak(speaker, { pcm: setup.input }, { signal });
    const interrupting =
      interrupter === undefined
        ? Promise.resolve(undefined)
        : interrupt(setup, guild, interrupter, startedAt, signal, problems);
    const [input, interruption] = await Promise.all([speaking, interrupting]);
    const lastSent = Math.max(
      lastSentAt(input) ?? 0,
      interruption === undefined ? 0 : (lastSentAt(interruption) ?? 0),
    );
    await waitForQuiet(guild, lastSent + FRAME_MS + setup.options.idleMs, signal, problems);
    churn?.stop();
    const bridgeInputLatencyMs = guild.status()?.bridgeInputLatencyMs;
    const endedAt = performance.now();
    const dave = daveFigures(harness, guild, churn?.changes() ?? 0);
    return { guild, input, interruption, bridgeInputLatencyMs, endedAt, problems, dave };
  } finally {
    await harness.close();
    await metricsServer?.close();
  }
}

function daveFigures(harness: SimHarness, guild: SimGuild, memberChanges: number): DaveFigures {
  const server = harness.voice.daveReport(guild.guildId);
  const status = guild.status();
  const botFailures = Object.values(status?.daveDecryptFailures ?? {}).reduce((sum, n) => sum + n, 0);
  return {
    protocolVersion: server?.protocolVersion ?? 0,
    epochs: server?.epochs ?? 0,
    transitions: server?.transitions ?? 0,
    decryptFailures: (server?.decryptFailures ?? 0) + botFailures,
    recoveries: (server?.recoveries ?? 0) + (status?.daveRecoveries ?? 0),
    memberChanges,
  };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** Consecutive client events of one type, counted. */
interface ReportClientEvent {
  readonly type: string;
  readonly count: number;
}

interface ReportError {
  readonly atMs: number;
  readonly source: string;
  readonly code?: string;
  readonly message: string;
}

interface SimulationReport {
  readonly backend: "local" | "azure";
  readonly inputRateHz: InputSampleRate;
  /** What the times count from. */
  readonly timeline: string;
  readonly inputMs: number;
  readonly durationMs: number;
  readonly appendEvents: number;
  readonly audioMsAppended: number;
  readonly audioMsAppendedAfterLastSpeech: number;
  readonly botAudioMsPlayed: number;
  readonly firstBotAudioMs: number | null;
  readonly bridgeInputLatencyMs: LatencyFigures | null;
  readonly bridgeOutputLatencyMs: LatencyFigures | null;
  readonly bargeIn:
    | (Omit<BargeInFigures, "at" | "itemId"> & { readonly speechStartedAtMs: number; readonly atMs: number })
    | null;
  readonly speechStartedMs: readonly number[];
  readonly speechStoppedMs: readonly number[];
  readonly responses: readonly { readonly status: string; readonly atMs: number }[];
  readonly truncations: readonly { readonly audioEndMs: number; readonly atMs: number }[];
  readonly clientEvents: readonly ReportClientEvent[];
  readonly notices: readonly string[];
  readonly errors: readonly ReportError[];
  /** What the bot sent Discord: each interaction's responses, and the messages it posted. */
  readonly discord: {
    readonly interactions: readonly {
      readonly command: string;
      readonly responses: readonly string[];
      readonly ephemeral: boolean;
      /** From the interaction to its first response. */
      readonly ms: number | null;
    }[];
    readonly messages: readonly {
      readonly channel: "voice" | "text";
      readonly text: string;
      readonly edits: number;
    }[];
  };
  readonly dave: DaveFigures;
  /** Speaker notes given to the model before user turns (each names who spoke). */
  readonly speakersAttributed: number;
  readonly toolCalls: readonly {
    readonly name: string;
    readonly speakerIds: readonly string[];
    readonly allowed: boolean;
    readonly ms: number;
  }[];
}

function buildReport(setup: Setup, result: RunResult): SimulationReport {
  const { guild, input, interruption } = result;
  const record = guild.record;
  const origin = input.sentAt[0]!;
  const at = (time: number): number => round(time - origin);
  const played = guild.playedFrames();
  const speechEnd = input.sentAt[lastSpeechFrame(setup.input)];
  const firstAnswer =
    speechEnd === undefined || Number.isNaN(speechEnd)
      ? undefined
      : guild.packets.find((packet) => !packet.isSilence && packet.receivedAt >= speechEnd);
  const errors: ReportError[] = record.errors
    .filter((error) => error.code === undefined || !BENIGN_ERROR_CODES.has(error.code))
    .map((error) => ({
      atMs: at(error.at),
      source: error.source,
      ...(error.code === undefined ? {} : { code: error.code }),
      message: error.message,
    }));
  const problems = [...result.problems];
  let bargeIn: SimulationReport["bargeIn"] = null;
  if (interruption !== undefined) {
    const interruptStart = interruption.sentAt[0]!;
    const cut = record.bargeIns.find((entry) => entry.at >= interruptStart);
    const figures = cut === undefined ? undefined : bargeInFigures(cut, played);
    if (figures === undefined) problems.push("the interruption did not cut the bot off (no barge-in)");
    else {
      const { at: cutAt, itemId: _itemId, ...rest } = figures;
      bargeIn = {
        ...rest,
        reactionMs: round(rest.reactionMs),
        speechStartedAtMs: round(cutAt - interruptStart),
        atMs: at(cutAt),
      };
    }
  }
  if (record.nonSilentPackets === 0) problems.push("the bot did not answer");
  const appendEvents = record.clientEvents
    .filter((run) => run.type === "input_audio_buffer.append")
    .reduce((sum, run) => sum + run.count, 0);
  return {
    backend: setup.backend.kind,
    inputRateHz: setup.inputRate,
    timeline: "ms from the first --input frame sent into the channel",
    inputMs: setup.input.length * FRAME_MS,
    durationMs: at(result.endedAt),
    appendEvents,
    audioMsAppended: record.appendedMs,
    audioMsAppendedAfterLastSpeech: record.msAfterLastSpeech,
    botAudioMsPlayed: record.nonSilentPackets * FRAME_MS,
    firstBotAudioMs:
      firstAnswer === undefined || speechEnd === undefined ? null : round(firstAnswer.receivedAt - speechEnd),
    bridgeInputLatencyMs: result.bridgeInputLatencyMs ?? null,
    bridgeOutputLatencyMs: outputLatency(played) ?? null,
    bargeIn,
    speechStartedMs: record.speechStarted.map(at),
    speechStoppedMs: record.speechStopped.map(at),
    responses: record.responses.map((response) => ({ status: response.status, atMs: at(response.at) })),
    truncations: record.truncations.map((t) => ({ audioEndMs: t.audioEndMs, atMs: at(t.at) })),
    clientEvents: record.clientEvents.map((run) => ({ type: run.type, count: run.count })),
    notices: [...record.notices],
    discord: {
      interactions: guild.interactions.map((interaction) => {
        const first = interaction.responses[0];
        return {
          command: `/${interaction.command}`,
          responses: interaction.responses.map((response) => response.kind),
          ephemeral: first?.ephemeral ?? false,
          ms: first === undefined ? null : first.at - interaction.createdAt,
        };
      }),
      messages: guild.messages.map((message) => ({
        channel: message.channelId === guild.channelId ? ("voice" as const) : ("text" as const),
        text: message.versions.at(-1)!.content,
        edits: message.versions.length - 1,
      })),
    },
    errors: [
      ...errors,
      ...problems.map((message) => ({ atMs: at(result.endedAt), source: "simulate", message })),
    ],
    dave: result.dave,
    speakersAttributed: record.speakerNotes.length,
    toolCalls: record.toolCalls.map((call) => ({ ...call, ms: round(call.ms) })),
  };
}

/**
 * The bot's packets decoded and laid on the run's timeline (see the module comment): 48 kHz stereo,
 * as long as the run, silence where the bot sent nothing.
 */
function playedAudio(packets: readonly BotPacket[], origin: number, endedAt: number): Int16Array {
  const slots: number[] = [];
  let previous = -1;
  for (const packet of packets) {
    previous = Math.max(previous + 1, Math.round((packet.receivedAt - origin) / FRAME_MS));
    slots.push(previous);
  }
  const frames = Math.max(previous + 1, Math.ceil((endedAt - origin) / FRAME_MS));
  const out = new Int16Array(frames * FRAME_SAMPLES_48K_STEREO);
  const decoder = new OpusFrameDecoder();
  try {
    packets.forEach((packet, k) => {
      const slot = slots[k]!;
      if (slot >= 0) out.set(decoder.decode(packet.opus), slot * FRAME_SAMPLES_48K_STEREO);
    });
  } finally {
    decoder.destroy();
  }
  return out;
}

/** Writes beside the target and renames, so a reader never sees half a file. */
async function writeAtomically(path: string, data: string | Uint8Array): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, data);
  await rename(temporary, path);
}

async function writeOutputs(setup: Setup, result: RunResult, report: SimulationReport): Promise<void> {
  const { output, heard, report: reportPath } = setup.options;
  if (output !== undefined) {
    const samples = playedAudio(result.guild.packets, result.input.sentAt[0]!, result.endedAt);
    await writeAtomically(output, writeWav({ sampleRate: 48_000, channels: 2, samples }));
  }
  if (heard !== undefined) {
    const samples = result.guild.heardPcm();
    await writeAtomically(heard, writeWav({ sampleRate: setup.inputRate, channels: 1, samples }));
  }
  if (reportPath !== undefined) await writeAtomically(reportPath, `${JSON.stringify(report, null, 2)}\n`);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function latency(figures: LatencyFigures | null): string {
  return figures === null ? "n/a" : `p50 ${figures.p50} / p99 ${figures.p99} ms`;
}

function summary(setup: Setup, report: SimulationReport): string {
  const lines = [
    `simulate: ${report.backend} backend, ${seconds(report.inputMs)} of input at ${report.inputRateHz} Hz, run ${seconds(report.durationMs)}`,
    `  appended ${seconds(report.audioMsAppended)} in ${report.appendEvents} events (${report.audioMsAppendedAfterLastSpeech} ms after the last speech)`,
    `  bot played ${seconds(report.botAudioMsPlayed)}; first audio ${report.firstBotAudioMs === null ? "never" : `${report.firstBotAudioMs} ms after the end of speech`}`,
    `  bridge latency: input ${latency(report.bridgeInputLatencyMs)}, output ${latency(report.bridgeOutputLatencyMs)}`,
  ];
  const cut = report.bargeIn;
  if (cut !== null) {
    lines.push(
      `  barge-in: speech_started ${cut.speechStartedAtMs} ms into the interruption; ${cut.botFramesAfterSpeechStarted} bot frame(s) after it; ` +
        `truncated at ${cut.truncateAudioEndMs ?? "-"} ms (played ${cut.playedMsAtCut} ms); response.cancel ${cut.responseCancelSent ? "sent" : "not needed"}`,
    );
  }
  const dave = report.dave;
  lines.push(
    dave.protocolVersion === 0
      ? "  DAVE off (transport encryption only)"
      : `  DAVE v${dave.protocolVersion}: ${dave.epochs} epochs, ${dave.transitions} transitions, ${dave.decryptFailures} frames undecryptable, ${dave.recoveries} recoveries` +
          (dave.memberChanges > 0 ? `, ${dave.memberChanges} member changes` : ""),
  );
  for (const notice of report.notices) lines.push(`  notice: ${notice}`);
  lines.push(
    report.errors.length === 0
      ? "  errors: none"
      : `  errors:\n${report.errors.map((e) => `    - ${e.source}${e.code === undefined ? "" : ` ${e.code}`}: ${e.message}`).join("\n")}`,
  );
  const written = [
    setup.options.report && `report ${setup.options.report}`,
    setup.options.output && `output ${setup.options.output}`,
    setup.options.heard && `heard ${setup.options.heard}`,
  ].filter(Boolean);
  if (written.length > 0) lines.push(`  wrote ${written.join(", ")}`);
  return `${lines.join("\n")}\n`;
}

async function main(): Promise<number> {
  let parsed: Options | "help";
  let setup: Setup;
  try {
    parsed = parseOptions(process.argv.slice(2));
    if (parsed === "help") {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    setup = await prepare(parsed);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`simulate: ${error.message}\n${error.showUsage ? `\n${USAGE}\n` : ""}`);
    return 2;
  }
  const controller = new AbortController();
  let signalExit: number | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalExit !== undefined) process.exit(signalExit);
    signalExit = SIGNAL_EXIT[signal] ?? 1;
    process.stderr.write(`simulate: ${signal}: stopping (nothing will be written)\n`);
    controller.abort();
    setTimeout(() => process.exit(signalExit), SIGNAL_DEADLINE_MS).unref();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let result: RunResult;
  try {
    result = await run(setup, controller.signal);
  } catch (error) {
    if (signalExit !== undefined) return signalExit;
    process.stderr.write(`simulate: the run failed: ${(error as Error).message}\n`);
    return 1;
  }
  if (signalExit !== undefined) return signalExit;
  const report = buildReport(setup, result);
  try {
    await writeOutputs(setup, result, report);
  } catch (error) {
    process.stderr.write(`simulate: could not write the results: ${(error as Error).message}\n`);
    return 1;
  }
  process.stderr.write(summary(setup, report));
  return 0;
}

const exitCode = await main();
process.exitCode = exitCode;
// Everything is closed by now; should a library still hold the loop open, do not hang the terminal.
setTimeout(() => process.exit(exitCode), 2_000).unref();
