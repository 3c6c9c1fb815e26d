import type { AccessToken, TokenCredential } from "@azure/identity";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { configSecrets, loadConfig } from "../../src/config.ts";
import { createMemoryLogger, type Logger, log, registerSecret, setRootLogger } from "../../src/log.ts";
import { type Rig, rigAzure, startRig } from "../reliability/rig.ts";
import { waitFor } from "../sim/voice-test-kit.ts";
import { type RecordingProxy, startRecordingProxy } from "./recording-proxy.ts";

/**
 * Credentials appear in no log line, URL, error message, notice or caption: a full conversation
 * (manager, real voice client, local Voice Live server behind a proxy that records every request
 * head) runs with an API key, then with an Entra ID token, through failures (a wrong key, service
 * error events, dropped sockets and reconnects), with captions on and every log line kept at
 * trace level. Then everything captured is searched for the secrets.
 */

const API_KEY = "vlk-5ecret-Ap1Key-9f8e7d6c5b4a";
const WRONG_KEY = "vlk-wr0ng-Ap1Key-0a1b2c3d4e5f";
const BEARER = "eyJhbGciOiJSUzI1NiJ9.secret-bearer-token.c2lnbmF0dXJl";
const DISCORD_TOKEN = "MTA5ODc2NTQzMjEwOTg3NjU0.GaBcDe.secret-discord-token-xyz0123456";

let memory: { logger: Logger; lines: string[] };
let previousRoot: Logger;
let proxy: RecordingProxy | undefined;
const rigs: Rig[] = [];
const errors: string[] = [];

beforeEach(() => {
  memory = createMemoryLogger("trace");
  previousRoot = log;
  setRootLogger(memory.logger);
  errors.length = 0;
});

afterEach(async () => {
  for (const rig of rigs.splice(0)) await rig.close();
  await proxy?.close();
  proxy = undefined;
  setRootLogger(previousRoot);
});

async function rigBehindProxy(options: {
  readonly serverApiKey: string | undefined;
  readonly clientApiKey: string | undefined;
  readonly credential?: TokenCredential;
}): Promise<Rig> {
  const recording = proxy ?? (await startRecordingProxy());
  proxy = recording;
  const rig = await startRig({
    logger: memory.logger,
    serverApiKey: options.serverApiKey,
    captions: true,
    azure: (endpoint) => {
      recording.forwardTo(endpoint);
      return rigAzure(recording.url, options.clientApiKey);
    },
    ...(options.credential === undefined ? {} : { credential: options.credential }),
  });
  rigs.push(rig);
  return rig;
}

/** Speaks until answered (a turn spoken mid-reconnect is lost, as it should be). */
async function answeredTurn(rig: Rig): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    await waitFor(rig.bothReady, "the conversation to be ready", 15_000);
    await rig.quiet();
    if (await rig.turn()) return;
  }
  throw new Error("no answer in three turns");
}

/** Every piece of text the bot produced or exposed, except request headers, labelled for the failure message. */
function everything(rigsSeen: readonly Rig[]): Map<string, string> {
  const texts = new Map<string, string>();
  const add = (label: string, list: readonly string[]): void => {
    for (const [i, text] of list.entries()) texts.set(`${label} ${i}`, text);
  };
  add("log line", memory.lines);
  for (const rig of rigsSeen) {
    add("caption", rig.captions);
    add("notice", rig.notices);
  }
  add("error", errors);
  add(
    "request line",
    (proxy?.heads ?? []).map((head) => head.split("\r\n")[0] ?? ""),
  );
  return texts;
}

function leaks(secret: string, texts: ReadonlyMap<string, string>): string[] {
  return [...texts]
    .filter(([, text]) => text.includes(secret))
    .map(([where, text]) => `${where}: ${text.slice(0, 300)}`);
}

describe("secrets stay secret", () => {
  it("an API key is sent only in the api-key header, through a conversation and its failures", async () => {
    const rig = await rigBehindProxy({ serverApiKey: API_KEY, clientApiKey: API_KEY });
    await rig.join();
    await answeredTurn(rig);
    rig.local.emitError({ code: "server_error", message: "The server had an error processing the request" });
    rig.local.emitError({
      code: "invalid_value",
      message: "Invalid value for 'voice'",
      type: "invalid_request_error",
    });
    rig.local.terminateAll();
    await waitFor(() => rig.notices.length > 0, "the outage notice");
    await answeredTurn(rig);
    rig.local.closeAll(1011, "internal error");
    await waitFor(() => rig.notices.length > 1, "the second outage notice");
    await waitFor(rig.bothReady, "the reconnect", 15_000);
    expect(await rig.manager.applySettings(rig.guildId, rig.settings(1.0))).toBe("applied");

    // A second bot with the wrong key: refused with 401, and told so in words.
    const wrong = await rigBehindProxy({ serverApiKey: API_KEY, clientApiKey: WRONG_KEY });
    await wrong.join().catch((error: unknown) => errors.push(String(error), (error as Error).stack ?? ""));
    expect(errors[0]).toMatch(/HTTP 401/);

    await rig.manager.closeAll("test over");
    const heads = proxy?.heads ?? [];
    expect(heads.length).toBeGreaterThanOrEqual(4);
    expect(heads.filter((head) => head.includes(`\r\napi-key: ${API_KEY}`))).toHaveLength(heads.length - 1);
    expect(heads.filter((head) => head.includes(`\r\napi-key: ${WRONG_KEY}`))).toHaveLength(1);
    expect(rig.captions.length, "captions were on and posted").toBeGreaterThan(0);
    expect(memory.lines.some((line) => line.includes("connecting to Voice Live"))).toBe(true);

    const texts = everything(rigs);
    expect(leaks(API_KEY, texts)).toEqual([]);
    expect(leaks(WRONG_KEY, texts)).toEqual([]);
  }, 60_000);

  it("an Entra ID token is sent only as a bearer header, fetched fresh for every connection", async () => {
    let tokensIssued = 0;
    let failNext = false;
    const credential: TokenCredential = {
      async getToken(): Promise<AccessToken> {
        if (failNext) {
          failNext = false;
          throw Object.assign(new Error("token endpoint unavailable"), { name: "AuthenticationError" });
        }
        tokensIssued++;
        return { token: BEARER, expiresOnTimestamp: Date.now() + 3_600_000 };
      },
    };
    const rig = await rigBehindProxy({ serverApiKey: undefined, clientApiKey: undefined, credential });
    await rig.join();
    await answeredTurn(rig);
    failNext = true; // the first reconnect cannot get a token; the next one can
    rig.local.terminateAll();
    await waitFor(() => rig.notices.length > 0, "the outage notice");
    await answeredTurn(rig);
    rig.local.emitError({ code: "server_error", message: "The server had an error processing the request" });
    await rig.manager.closeAll("test over");

    const heads = proxy?.heads ?? [];
    expect(tokensIssued).toBe(2);
    expect(heads).toHaveLength(2);
    for (const head of heads) expect(head).toContain(`\r\nauthorization: Bearer ${BEARER}`);
    expect(rig.captions.length).toBeGreaterThan(0);
    expect(memory.lines.some((line) => line.includes("could not get a Microsoft Entra ID token"))).toBe(true);
    expect(leaks(BEARER, everything(rigs))).toEqual([]);
  }, 60_000);

  it("the Discord token from the configuration is scrubbed from anything logged", () => {
    const config = loadConfig({
      DISCORD_TOKEN,
      AZURE_VOICELIVE_ENDPOINT: "https://example.services.ai.azure.com",
    });
    for (const secret of configSecrets(config)) registerSecret(secret);
    const logger = memory.logger;
    logger.info({ config }, "configuration loaded");
    logger.info(
      { discord: { ...config.discord }, headers: { authorization: `Bot ${DISCORD_TOKEN}` } },
      "login",
    );
    logger.error({ err: new Error(`login failed for ${DISCORD_TOKEN}`) }, "could not log in to Discord");
    logger.warn(`gateway url wss://gateway.discord.gg/?token=${DISCORD_TOKEN}&v=10`);
    logger.debug({ nested: { deeper: [{ value: `prefix-${DISCORD_TOKEN}-suffix` }] } }, "deep");

    expect(memory.lines).toHaveLength(5);
    expect(leaks(DISCORD_TOKEN, everything([]))).toEqual([]);
    expect(memory.lines.every((line) => line.includes("[redacted]"))).toBe(true);
  });
});
