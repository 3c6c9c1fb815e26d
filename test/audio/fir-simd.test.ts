import { describe, expect, it } from "vitest";
import { assembleFirSimd } from "../../scripts/wat.ts";
import { FIR_SIMD_WASM_BASE64 } from "../../src/audio/fir-simd-wasm.ts";

describe("the SIMD FIR kernel", () => {
  it("is committed as exactly what src/audio/fir-simd.wat assembles to (run npm run build:wasm)", async () => {
    expect(Buffer.from(FIR_SIMD_WASM_BASE64, "base64")).toEqual(Buffer.from(await assembleFirSimd()));
  });
});
