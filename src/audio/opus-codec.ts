import type { OpusBackend, OpusBackendName } from "./opus-backend.ts";
import { loadNativeBackend } from "./opus-native.ts";
import { wasmBackend } from "./opus-wasm.ts";

/**
 * Which libopus the bot runs, chosen once per process (and per worker thread): the native addon
 * when it loads, else opusscript's WebAssembly. OPUS_CODEC=native|opusscript|auto (default auto)
 * forces one; "native" when the addon cannot load is a start-up error, not a silent fallback.
 */

export type OpusCodecSetting = OpusBackendName | "auto";

export interface OpusCodecChoice {
  readonly backend: OpusBackend;
  /** Why the native addon is not in use (undefined when it is, or when opusscript was asked for). */
  readonly nativeUnavailable: string | undefined;
}

export function parseOpusCodecSetting(value: string | undefined): OpusCodecSetting {
  const setting = (value ?? "auto").trim().toLowerCase() || "auto";
  if (setting === "auto" || setting === "native" || setting === "opusscript") return setting;
  throw new Error(`OPUS_CODEC must be native, opusscript or auto, got "${value}"`);
}

export function chooseOpusBackend(setting: OpusCodecSetting): OpusCodecChoice {
  if (setting === "opusscript") return { backend: wasmBackend, nativeUnavailable: undefined };
  const native = loadNativeBackend();
  if (!(native instanceof Error)) return { backend: native, nativeUnavailable: undefined };
  if (setting === "native") {
    throw new Error(`OPUS_CODEC=native but @discordjs/opus does not load: ${native.message}`);
  }
  return { backend: wasmBackend, nativeUnavailable: native.message.split("\n")[0] };
}

let chosen: OpusCodecChoice | undefined;

/** The process's choice, made on first use from OPUS_CODEC. */
export function opusCodec(): OpusCodecChoice {
  chosen ??= chooseOpusBackend(parseOpusCodecSetting(process.env.OPUS_CODEC));
  return chosen;
}

/** A backend by name, for tests and benchmarks that compare both in one process. */
export function opusBackend(name: OpusBackendName): OpusBackend {
  return chooseOpusBackend(name).backend;
}
