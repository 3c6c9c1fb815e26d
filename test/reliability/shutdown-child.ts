/**
 * A bot process at work, for the SIGTERM test: the conversation manager in a loopback voice channel
 * with a user talking and the bot answering, and the shutdown path main.ts installs (createShutdown
 * on SIGINT/SIGTERM: leave every channel, then close what else is open). Prints "active" once the
 * bot has answered while the user is still speaking; logs go to stdout as JSON lines.
 */
import { createShutdown } from "../../src/discord/shutdown.ts";
import { schedule } from "../../src/discord/timers.ts";
import { createLogger, setRootLogger } from "../../src/log.ts";
import { encodeFrames, speechFrames } from "../sim/harness.ts";
import { startRig, USER_ID } from "./rig.ts";

const SHUTDOWN_DEADLINE_MS = 5_000;

const logger = createLogger({ level: "info", pretty: false });
setRootLogger(logger);
process.on("unhandledRejection", (reason) => logger.error({ err: reason }, "unhandled promise rejection"));
process.on("uncaughtException", (error) => logger.error({ err: error }, "uncaught exception"));

const rig = await startRig({ logger, speed: 4 });
await rig.join();
const shutdown = createShutdown({
  steps: [
    { name: "leave voice channels", run: () => rig.manager.closeAll("the bot is shutting down") },
    { name: "close the loopback servers", run: () => rig.close() },
  ],
  logger,
  exit: (code) => process.exit(code),
  schedule,
  deadlineMs: SHUTDOWN_DEADLINE_MS,
});
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));

// Two questions back to back, twice: the bot answers the first while the user goes on talking.
const talk = encodeFrames([
  ...speechFrames("speech-weather-question.wav", 290),
  ...speechFrames("speech-meeting-summary.wav", 270),
]);
const start = rig.botPackets;
let announced = false;
const announce = setInterval(() => {
  if (!announced && rig.botPackets > start) {
    announced = true;
    process.stdout.write("active\n");
  }
}, 20);
for (let round = 0; round < 2; round++) await rig.voice.speakAs(rig.guildId, USER_ID, { opus: talk });
clearInterval(announce);
process.stdout.write("finished talking without a signal\n");
