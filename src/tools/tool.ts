import { PermissionFlagsBits } from "discord.js";
import type { ToolName } from "../persona.ts";

/**
 * One thing the bot can do when asked in voice. A tool declares the Discord permission the
 * people who asked must hold; the executor checks it before `run` is called.
 */

/** What a tool may act on: the guild's conversation, seen from the Discord side. */
export interface ToolEnvironment {
  /** Display names of the people (not bots) in the bot's voice channel. */
  roster(): readonly string[];
  /** Ends the conversation: the bot leaves the channel with one notice naming who asked. */
  leave(askedBy: readonly string[]): Promise<void>;
  setCaptions(enabled: boolean): Promise<string>;
  /** Saves and applies a persona voice; a refusal says why in words. */
  changeVoice(voice: string): Promise<string>;
  /** The guild's time zone setting (IANA). */
  timeZone(): Promise<string>;
  now(): Date;
}

export interface Permission {
  readonly flag: bigint;
  /** As Discord shows it: "Manage Server". */
  readonly label: string;
}

export interface Tool {
  readonly name: ToolName;
  /** What the model reads to decide when to call it. */
  readonly description: string;
  /** JSON Schema of the arguments object. */
  readonly parameters: Readonly<Record<string, unknown>>;
  /** Every speaker of the turn that led to the call must hold it; undefined: anyone may ask. */
  readonly permission: Permission | undefined;
  /** The result as text for the model; throws on failure (the executor turns that into an apology). */
  run(
    args: Readonly<Record<string, unknown>>,
    env: ToolEnvironment,
    askedBy: readonly string[],
  ): Promise<string>;
}

export const NO_ARGUMENTS = { type: "object", properties: {}, additionalProperties: false } as const;

/** Manage Server: what the settings commands need, so also the tools that change settings. */
export const MANAGE_SERVER: Permission = { flag: PermissionFlagsBits.ManageGuild, label: "Manage Server" };
