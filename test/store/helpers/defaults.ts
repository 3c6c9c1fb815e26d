import { defaultPersona } from "../../../src/persona.ts";

export const testDefaults = defaultPersona({ instructions: "Be brief.", voice: "alloy" });

/** A valid snowflake per index, so ids pass the store's checks. */
export function testGuildId(index: number): string {
  return String(100_000_000_000_000_000n + BigInt(index));
}
