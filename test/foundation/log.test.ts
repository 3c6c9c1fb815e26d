import { describe, expect, it } from "vitest";
import { createMemoryLogger, registerSecret, scrubSecrets } from "../../src/log.ts";

describe("log redaction", () => {
  it("removes registered secrets wherever they occur in a line", () => {
    const secret = "sk-test-0123456789abcdefXYZ";
    registerSecret(secret);
    const { logger, lines } = createMemoryLogger();
    logger.info({ nested: { deep: [`prefix ${secret} suffix`] } }, `message with ${secret}`);
    logger.error({ err: new Error(`failed for https://host/?k=${secret}`) }, "boom");
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line).not.toContain(secret);
    expect(lines.join("\n")).toContain("[redacted]");
  });

  it("redacts credential headers and credential-shaped strings it was never told about", () => {
    const { logger, lines } = createMemoryLogger();
    logger.info(
      { headers: { "api-key": "abcdefgh12345678", authorization: "Bearer eyJ0eXAiOiJKV1QiLCJhbGciOi" } },
      "upgrade",
    );
    logger.warn(
      "retrying with Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig and api-key=zzzzzzzzzzzz",
    );
    logger.error({ url: "postgres://bot:pw@db:5432/x" }, "cannot reach postgresql://bot:hunter2@db/x");
    const text = lines.join("\n");
    expect(text).not.toContain("abcdefgh12345678");
    expect(text).not.toContain("eyJ0eXAiOiJKV1QiLCJhbGciOi");
    expect(text).not.toContain("eyJhbGciOiJIUzI1NiJ9");
    expect(text).not.toContain("zzzzzzzzzzzz");
    expect(text).not.toMatch(/:pw@|hunter2/);
    expect(text).toContain("postgresql://bot:[redacted]@db/x");
  });

  it("leaves ordinary text alone", () => {
    expect(scrubSecrets('{"msg":"joined channel 1234 with persona alloy"}')).toBe(
      '{"msg":"joined channel 1234 with persona alloy"}',
    );
  });

  it("writes JSON lines", () => {
    const { logger, lines } = createMemoryLogger();
    logger.info({ guildId: "1" }, "hello");
    const parsed = JSON.parse(lines[0] ?? "") as { msg: string; guildId: string; level: number };
    expect(parsed).toMatchObject({ msg: "hello", guildId: "1", level: 30 });
  });
});
