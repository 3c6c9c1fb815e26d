import { describe, expect, it } from "vitest";
import { chooseOpusBackend, parseOpusCodecSetting } from "../../src/audio/opus-codec.ts";
import { loadNativeBackend } from "../../src/audio/opus-native.ts";

const nativeLoads = !(loadNativeBackend() instanceof Error);

describe("OPUS_CODEC", () => {
  it("is auto when unset or blank, and accepts native and opusscript in any case", () => {
    expect(parseOpusCodecSetting(undefined)).toBe("auto");
    expect(parseOpusCodecSetting(" ")).toBe("auto");
    expect(parseOpusCodecSetting("Native")).toBe("native");
    expect(parseOpusCodecSetting("opusscript")).toBe("opusscript");
  });

  it("rejects anything else, naming the choices", () => {
    expect(() => parseOpusCodecSetting("libopus")).toThrow(/native, opusscript or auto/);
  });
});

describe("choosing the Opus build", () => {
  it("opusscript when asked for, without trying the addon", () => {
    const choice = chooseOpusBackend("opusscript");
    expect(choice.backend.name).toBe("opusscript");
    expect(choice.nativeUnavailable).toBeUndefined();
  });

  it("auto: native when the addon loads, else opusscript with the reason", () => {
    const choice = chooseOpusBackend("auto");
    expect(choice.backend.name).toBe(nativeLoads ? "native" : "opusscript");
    expect(choice.nativeUnavailable === undefined).toBe(nativeLoads);
  });

  it.skipIf(nativeLoads)("native without the addon is an error, not a silent fallback", () => {
    expect(() => chooseOpusBackend("native")).toThrow(/OPUS_CODEC=native but @discordjs\/opus does not load/);
  });

  it.skipIf(!nativeLoads)("native with the addon is libopus through @discordjs/opus", () => {
    expect(chooseOpusBackend("native").backend.description).toMatch(/@discordjs\/opus/);
  });
});
