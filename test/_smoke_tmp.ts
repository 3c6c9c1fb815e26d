import { readFileSync } from "node:fs";
import { ConversationManager } from "../src/conversation/manager.ts";
import { LoopbackVoiceServer } from "../src/sim/voice-server.ts";
import { trustLoopbackCertificate } from "../src/sim/tls.ts";
import { createLogger } from "../src/log.ts";
import { defaultPersona } from "../src/persona.ts";
import { speechFrames } from "./sim/harness.ts";

trustLoopbackCertificate();
const logger = createLogger({ level: "info", pretty: false });
const server = await LoopbackVoiceServer.start({ heartbeatIntervalMs: 1000 });
const manager = new ConversationManager({
  config: { azure: undefined, voiceLive: { inputSampleRate: 24000, connectionsPerMinute: 30, sessionMaxMinutes: 55 }, conversation: { idleTimeoutSeconds: 600, emptyChannelGraceSeconds: 60 } },
  logger,
  observe: () => ({
    speechStarted: (at) => console.log("speech_started", at.toFixed(0)),
    speechStopped: (at) => console.log("speech_stopped", at.toFixed(0)),
    bargeIn: (info) => console.log("bargeIn", info),
    responseDone: (s) => console.log("response.done", s),
  }),
});
const guildId = "123456789012345678";
const botId = "223456789012345678";
await manager.join({
  guildId, channelId: "323456789012345678", channelName: "voice", initiatorId: "1",
  adapterCreator: server.adapterCreator({ userId: botId, guildId }),
  settings: { persona: defaultPersona({ instructions: "hi", voice: "alloy" }), captions: { enabled: false, channelId: null }, listen: { mode: "everyone" } },
  isAllowedSpeaker: () => true,
  notify: async (t) => console.log("NOTIFY", t),
});
console.log("joined", manager.status(guildId));
server.addUser(guildId, "423456789012345678");
await new Promise((r) => setTimeout(r, 100));
const frames = speechFrames("speech-weather-question.wav", 400);
const t0 = performance.now();
await server.speakAs(guildId, "423456789012345678", { pcm: frames });
console.log("spoke", (performance.now() - t0).toFixed(0));
await new Promise((r) => setTimeout(r, 9000));
const audio = server.botAudio(guildId);
console.log("bot packets", audio.length, "non-silence", audio.filter((p) => !p.isSilence).length);
console.log(manager.status(guildId));
await manager.closeAll("done");
await server.close();
