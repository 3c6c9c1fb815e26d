/**
 * The output encoder worker thread (started by encoder-worker.ts): one Mono24kOpusEncoder per
 * stream, requests answered in order. Keeps Opus encoding (the bot's costliest per-frame work) off
 * the main thread, where it would delay @discordjs/voice's audio cycle for every guild.
 */
import { parentPort } from "node:worker_threads";
import { Mono24kOpusEncoder } from "../audio/output-encoder.ts";
import type { EncoderReply, EncoderRequest } from "./encoder-worker.ts";

const port = parentPort;
if (port === null) throw new Error("encoder-thread.ts runs as a worker thread");

const encoders = new Map<number, Mono24kOpusEncoder>();

port.on("message", (request: EncoderRequest) => {
  switch (request.op) {
    case "encode": {
      let encoder = encoders.get(request.stream);
      if (encoder === undefined) {
        encoder = new Mono24kOpusEncoder();
        encoders.set(request.stream, encoder);
      }
      let reply: EncoderReply;
      try {
        const encoded = encoder.encode(request.pcm, request.gain);
        // A fresh buffer of its own, so the transfer moves only this packet.
        const packet = new Uint8Array(encoded.length);
        packet.set(encoded);
        reply = { stream: request.stream, generation: request.generation, packet };
        port.postMessage(reply, [packet.buffer]);
      } catch (error) {
        reply = { stream: request.stream, generation: request.generation, error: String(error) };
        port.postMessage(reply);
      }
      return;
    }
    case "reset":
      encoders.get(request.stream)?.reset();
      return;
    case "close":
      encoders.get(request.stream)?.destroy();
      encoders.delete(request.stream);
      return;
  }
});
