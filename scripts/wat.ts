import { readFileSync } from "node:fs";
import wabt from "wabt";

export const FIR_SIMD_SOURCE = new URL("../src/audio/fir-simd.wat", import.meta.url);
export const FIR_SIMD_MODULE = new URL("../src/audio/fir-simd-wasm.ts", import.meta.url);

/** The binary module of fir-simd.wat. */
export async function assembleFirSimd(): Promise<Uint8Array> {
  const toolkit = await wabt();
  const parsed = toolkit.parseWat("fir-simd.wat", readFileSync(FIR_SIMD_SOURCE, "utf8"), {
    simd: true,
    sat_float_to_int: true,
  });
  try {
    parsed.validate();
    return parsed.toBinary({}).buffer;
  } finally {
    parsed.destroy();
  }
}
