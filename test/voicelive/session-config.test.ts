import { describe, expect, it } from "vitest";
import { buildSessionConfig } from "../../src/bridge/persona-session.ts";
import { defaultPersona, type Persona } from "../../src/persona.ts";
import type { SessionConfig } from "../../src/voicelive/protocol.ts";
import { diffSessionConfig, validateSessionConfig } from "../../src/voicelive/session-config.ts";

const persona: Persona = defaultPersona({ instructions: "Be brief.", voice: "alloy" });

function built(p: Persona = persona, options: Parameters<typeof buildSessionConfig>[1] = {}): SessionConfig {
  const result = buildSessionConfig(p, options);
  if (!result.ok) throw new Error(result.problems.join("; "));
  return result.config;
}

function problemsOf(config: SessionConfig, agentMode = false): readonly string[] {
  const result = validateSessionConfig(config, { agentMode });
  return result.ok ? [] : result.problems;
}

describe("buildSessionConfig", () => {
  it("maps a default persona to a complete session.update payload", () => {
    expect(built()).toEqual({
      modalities: ["text", "audio"],
      instructions: "Be brief.",
      voice: { type: "openai", name: "alloy" },
      input_audio_format: "pcm16",
      input_audio_sampling_rate: 24000,
      output_audio_format: "pcm16",
      turn_detection: {
        type: "server_vad",
        threshold: 0.5,
        prefix_padding_ms: 300,
        silence_duration_ms: 500,
        // Smart turn-taking (the default): the bot decides interruptions and asks for answers.
        create_response: false,
        interrupt_response: false,
      },
      input_audio_noise_reduction: null,
      input_audio_echo_cancellation: null,
      // gpt-realtime takes OpenAI transcription models only (capabilities.ts).
      input_audio_transcription: { model: "gpt-4o-mini-transcribe" },
      temperature: 0.8,
    });
  });

  it("leaves interruptions and answers to the service with turn_taking service and no wake name", () => {
    const service = { ...persona, turnTaking: "service" as const };
    expect(built(service).turn_detection).toMatchObject({ create_response: true, interrupt_response: true });
    expect(built({ ...service, wakeMode: "group" }).turn_detection).toMatchObject({
      create_response: false,
      interrupt_response: true,
    });
  });

  it("keeps semantic_vad's own turn-taking: it has no interrupt or answer switch to send", () => {
    const semantic = {
      ...persona,
      turnDetection: { ...persona.turnDetection, type: "semantic_vad" as const },
    };
    expect(built(semantic).turn_detection).toEqual({ type: "semantic_vad" });
  });

  it("builds Azure voices with options, semantic VAD and audio processing", () => {
    const config = built(
      {
        ...persona,
        voice: "en-US-Ava:DragonHDLatestNeural",
        noiseSuppression: true,
        echoCancellation: true,
        transcriptionLanguage: "en-US",
        turnDetection: { ...persona.turnDetection, type: "azure_semantic_vad" },
      },
      {
        azureVoiceOptions: { temperature: 0.7, rate: "1.1", style: "cheerful", locale: "en-US" },
        inputSampleRate: 16000,
        turnDetection: {
          removeFillerWords: true,
          endOfUtteranceDetection: {
            model: "semantic_detection_v1",
            threshold_level: "medium",
            timeout_ms: 800,
          },
        },
        maxResponseOutputTokens: "inf",
        target: { model: "gpt-4.1", apiVersion: "2026-07-15", agentMode: false },
      },
    );
    expect(config.voice).toEqual({
      type: "azure-standard",
      name: "en-US-Ava:DragonHDLatestNeural",
      temperature: 0.7,
      rate: "1.1",
      style: "cheerful",
      locale: "en-US",
    });
    expect(config.input_audio_sampling_rate).toBe(16000);
    expect(config.turn_detection).toMatchObject({
      type: "azure_semantic_vad",
      remove_filler_words: true,
      end_of_utterance_detection: { model: "semantic_detection_v1" },
      create_response: false,
      interrupt_response: false,
    });
    expect(config.input_audio_noise_reduction).toEqual({ type: "azure_deep_noise_suppression" });
    expect(config.input_audio_echo_cancellation).toEqual({ type: "server_echo_cancellation" });
    expect(config.input_audio_transcription).toEqual({ model: "azure-speech", language: "en-US" });
    expect(config.max_response_output_tokens).toBe("inf");
  });

  it("builds custom voices with their endpoint id, and semantic_vad without timing fields", () => {
    const config = built({
      ...persona,
      voice: "en-US-MyBrandNeural",
      voiceEndpointId: "0f3c2a1b-1111-2222-3333-444455556666",
      turnDetection: { ...persona.turnDetection, type: "semantic_vad" },
    });
    expect(config.voice).toEqual({
      type: "azure-custom",
      name: "en-US-MyBrandNeural",
      endpoint_id: "0f3c2a1b-1111-2222-3333-444455556666",
    });
    // Both default to true for semantic_vad, and the SDK carries no semantic_vad field but type.
    expect(config.turn_detection).toEqual({ type: "semantic_vad" });
  });

  it("leaves instructions out in agent mode and rejects explicit ones", () => {
    const azureVoice = { ...persona, voice: "en-US-AvaNeural" };
    expect(built(azureVoice, { agentMode: true }).instructions).toBeUndefined();
    expect(built(azureVoice, { agentMode: true }).temperature).toBeUndefined();
    const result = buildSessionConfig(persona, { agentMode: true, instructions: "x" });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problems[0]).toMatch(/^instructions: not allowed in agent mode/);
  });

  it("accepts personal and realtime-native voices given as options", () => {
    expect(
      built(persona, { voice: { type: "azure-personal", name: "me", model: "DragonLatestNeural" } }).voice,
    ).toEqual({
      type: "azure-personal",
      name: "me",
      model: "DragonLatestNeural",
    });
    const azureRealtime = { model: "azure-realtime", apiVersion: "2026-07-15", agentMode: false };
    expect(
      built(persona, { voice: { type: "azure-realtime-native", name: "ava" }, target: azureRealtime }).voice,
    ).toEqual({
      type: "azure-realtime-native",
      name: "ava",
    });
  });

  it("omits the sampling rate for g711 input", () => {
    const config = built(persona, { inputAudioFormat: "g711_ulaw" });
    expect(config.input_audio_format).toBe("g711_ulaw");
    expect(config.input_audio_sampling_rate).toBeUndefined();
  });

  it("asks for word timestamps for captions only with an Azure voice", () => {
    const azure = { ...persona, voice: "en-US-AvaNeural" };
    expect(built(azure, { wordTimestamps: true }).output_audio_timestamp_types).toEqual(["word"]);
    expect(built(azure, {}).output_audio_timestamp_types).toBeUndefined();
    expect(built(persona, { wordTimestamps: true }).output_audio_timestamp_types).toBeUndefined();
  });
});

describe("validateSessionConfig", () => {
  const base = built();
  const vad = base.turn_detection as Exclude<SessionConfig["turn_detection"], null | undefined>;

  it("accepts what buildSessionConfig produces", () => {
    expect(problemsOf(base)).toEqual([]);
  });

  it.each<[string, SessionConfig, RegExp]>([
    [
      "semantic_vad with threshold",
      {
        turn_detection: {
          type: "semantic_vad",
          threshold: 0.5,
          create_response: true,
          interrupt_response: true,
        } as never,
      },
      /^turn_detection\.threshold: semantic_vad does not take threshold/,
    ],
    [
      "g711 with 16000",
      { input_audio_format: "g711_alaw", input_audio_sampling_rate: 16000 },
      /^input_audio_sampling_rate: g711_alaw/,
    ],
    [
      "g711 with 24000",
      { input_audio_format: "g711_ulaw", input_audio_sampling_rate: 24000 },
      /^input_audio_sampling_rate:/,
    ],
    [
      "pcm16 at 8000",
      { input_audio_format: "pcm16", input_audio_sampling_rate: 8000 },
      /pcm16 input must be 24000 or 16000/,
    ],
    ["pcm16 at 44100", { input_audio_sampling_rate: 44100 }, /^input_audio_sampling_rate: pcm16/],
    [
      "voice temperature 1.5",
      { voice: { type: "azure-standard", name: "en-US-AvaNeural", temperature: 1.5 } },
      /^voice\.temperature: must be from 0 to 1/,
    ],
    [
      "voice temperature -0.1",
      { voice: { type: "azure-standard", name: "en-US-AvaNeural", temperature: -0.1 } },
      /^voice\.temperature/,
    ],
    [
      "OpenAI voice with Azure options",
      { voice: { type: "openai", name: "alloy", style: "cheerful" } as never },
      /^voice\.style: only Azure TTS voices/,
    ],
    [
      "custom voice without endpoint",
      { voice: { type: "azure-custom", name: "x", endpoint_id: "" } },
      /^voice\.endpoint_id/,
    ],
    [
      "bad voice rate",
      { voice: { type: "azure-standard", name: "en-US-AvaNeural", rate: "3" } },
      /^voice\.rate/,
    ],
    [
      "max tokens 0",
      { max_response_output_tokens: 0 },
      /^max_response_output_tokens: must be a whole number from 1 to 4096/,
    ],
    ["max tokens 4097", { max_response_output_tokens: 4097 }, /^max_response_output_tokens/],
    ["max tokens 1.5", { max_response_output_tokens: 1.5 }, /^max_response_output_tokens/],
    ["audio-only modality", { modalities: ["audio"] }, /^modalities: audio alone/],
    ["temperature 2", { temperature: 2 }, /^temperature: must be from 0.6 to 1.2/],
    [
      "VAD without explicit create_response",
      { turn_detection: { type: "server_vad", interrupt_response: true } },
      /^turn_detection\.create_response: must be set to true or false explicitly/,
    ],
    [
      "server_vad with remove_filler_words",
      { turn_detection: { ...vad, type: "server_vad", remove_filler_words: true } as never },
      /^turn_detection\.remove_filler_words: only azure_semantic_vad/,
    ],
    [
      "threshold above 1",
      { turn_detection: { ...vad, type: "server_vad", threshold: 1.2 } as never },
      /^turn_detection\.threshold/,
    ],
    [
      "unknown end-of-utterance model",
      {
        turn_detection: {
          ...vad,
          type: "server_vad",
          end_of_utterance_detection: { model: "magic" },
        } as never,
      },
      /^turn_detection\.end_of_utterance_detection\.model/,
    ],
    [
      "transcription language",
      { input_audio_transcription: { model: "whisper-1", language: "English!" } },
      /^input_audio_transcription\.language/,
    ],
    [
      "unknown noise reduction",
      { input_audio_noise_reduction: { type: "loud" } as never },
      /^input_audio_noise_reduction\.type/,
    ],
  ])("rejects %s, naming the field", (_name, config, expected) => {
    const problems = problemsOf(config);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]).toMatch(expected);
  });

  it("refuses word timestamps other than words, or with an OpenAI voice", () => {
    const azureVoice = { type: "azure-standard", name: "en-US-AvaNeural" } as const;
    expect(problemsOf({ ...base, voice: azureVoice, output_audio_timestamp_types: ["word"] })).toEqual([]);
    expect(problemsOf({ ...base, output_audio_timestamp_types: ["word"] })).toEqual([
      "output_audio_timestamp_types: word timestamps need an Azure voice",
    ]);
  });

  it("rejects instructions in agent mode only", () => {
    expect(problemsOf({ instructions: "hi" }, true)[0]).toMatch(/^instructions: not allowed in agent mode/);
    expect(problemsOf({ instructions: "hi" }, false)).toEqual([]);
  });

  it("accepts the documented good values", () => {
    expect(problemsOf({ max_response_output_tokens: 1 })).toEqual([]);
    expect(problemsOf({ max_response_output_tokens: 4096 })).toEqual([]);
    expect(problemsOf({ input_audio_format: "g711_ulaw" })).toEqual([]);
    expect(
      problemsOf({
        voice: { type: "azure-standard", name: "en-US-AvaNeural", rate: "+20%", temperature: 0 },
      }),
    ).toEqual([]);
    expect(problemsOf({ turn_detection: null, input_audio_transcription: null })).toEqual([]);
    expect(problemsOf({ input_audio_transcription: { model: "whisper-1", language: "en" } })).toEqual([]);
  });
});

describe("diffSessionConfig", () => {
  const before = built();

  it("reports no change for an equal configuration built separately", () => {
    expect(diffSessionConfig(before, built(), { audioProduced: true })).toMatchObject({
      changed: [],
      apply: "none",
    });
  });

  it("sends only the changed fields live", () => {
    const after = built({ ...persona, instructions: "Be funny.", noiseSuppression: true });
    const change = diffSessionConfig(before, after, { audioProduced: true });
    expect(change.apply).toBe("live");
    expect([...change.changed].sort()).toEqual(["input_audio_noise_reduction", "instructions"]);
    expect(change.patch).toEqual({
      instructions: "Be funny.",
      input_audio_noise_reduction: { type: "azure_deep_noise_suppression" },
    });
  });

  it("needs a restart to change the voice after audio was produced, not before", () => {
    const after = built({ ...persona, voice: "echo" });
    expect(diffSessionConfig(before, after, { audioProduced: false }).apply).toBe("live");
    const change = diffSessionConfig(before, after, { audioProduced: true });
    expect(change.apply).toBe("restart");
    expect(change.restartReason).toMatch(/voice cannot change after the session has spoken/);
  });

  it("clears removed resettable fields explicitly", () => {
    const after: SessionConfig = { ...before, input_audio_transcription: undefined };
    const change = diffSessionConfig(before, after, { audioProduced: false });
    expect(change.patch).toEqual({ input_audio_transcription: null });
  });
});
