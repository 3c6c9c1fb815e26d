import { randomBytes } from "node:crypto";
import { snowflake } from "../snowflake.ts";

/*
 * Interactions as Discord applies them: building the INTERACTION_CREATE data from a command's
 * registered definition (typed options, subcommands, focused autocomplete options, modal fields)
 * and the response rules: one initial response within the window (10062 after it, 40060 for a
 * second one), then edits of @original and follow-ups for 15 minutes.
 */

export type OptionValue = string | number | boolean;
export type InteractionKind = "command" | "autocomplete" | "modal-submit";

const OptionType = {
  subcommand: 1,
  subcommandGroup: 2,
  string: 3,
  integer: 4,
  boolean: 5,
  user: 6,
  channel: 7,
  role: 8,
  mentionable: 9,
  number: 10,
} as const;

const CallbackType = { reply: 4, defer: 5, autocomplete: 8, modal: 9 } as const;
const EPHEMERAL = 64;
const FOLLOW_UP_WINDOW_MS = 15 * 60_000;

export interface CommandDefinition {
  readonly name: string;
  readonly default_member_permissions?: string | null;
  readonly options?: readonly OptionDefinition[];
}

export interface OptionDefinition {
  readonly type: number;
  readonly name: string;
  readonly required?: boolean;
  readonly autocomplete?: boolean;
  readonly choices?: readonly { readonly value: OptionValue }[];
  readonly options?: readonly OptionDefinition[];
  readonly min_value?: number;
  readonly max_value?: number;
  readonly min_length?: number;
  readonly max_length?: number;
}

export type ResponseKind =
  | "reply"
  | "defer"
  | "modal"
  | "autocomplete"
  | "edit-original"
  | "delete-original"
  | "follow-up";

export interface InteractionResponse {
  readonly kind: ResponseKind;
  /** Date.now() when Discord accepted it. */
  readonly at: number;
  readonly ephemeral: boolean;
  readonly content: string | undefined;
  readonly embeds: readonly Record<string, unknown>[];
  readonly choices?: readonly { readonly name: string; readonly value: OptionValue }[];
  readonly modal?: Record<string, unknown>;
}

export interface InteractionRecord {
  readonly id: string;
  readonly token: string;
  readonly kind: InteractionKind;
  /** "persona set", "join", ... */
  readonly command: string;
  readonly guildId: string;
  readonly channelId: string;
  readonly userId: string;
  readonly createdAt: number;
  readonly responses: InteractionResponse[];
  /** Callback attempts Discord refused, with its error code. */
  readonly rejected: { readonly code: number; readonly at: number }[];
}

export class InvocationError extends Error {
  override readonly name = "InvocationError";
}

export interface ResolvedOption {
  readonly type: number;
  readonly name: string;
  readonly value: OptionValue;
  readonly focused?: boolean;
}

/** The options Discord's client would send for `values`, checked against the definition. */
export function buildOptions(
  definition: CommandDefinition,
  subcommand: string | undefined,
  values: Readonly<Record<string, OptionValue>>,
  focused?: string,
): { readonly options: object[]; readonly typed: ResolvedOption[] } {
  let level = definition.options ?? [];
  let wrap = (options: object[]): object[] => options;
  if (subcommand !== undefined) {
    const sub = level.find((option) => option.type === OptionType.subcommand && option.name === subcommand);
    if (sub === undefined) throw new InvocationError(`/${definition.name} has no subcommand ${subcommand}`);
    level = sub.options ?? [];
    wrap = (options) => [{ type: OptionType.subcommand, name: subcommand, options }];
  } else if (level.some((option) => option.type === OptionType.subcommand)) {
    throw new InvocationError(`/${definition.name} needs a subcommand`);
  }
  const typed: ResolvedOption[] = [];
  for (const [name, value] of Object.entries(values)) {
    const option = level.find((candidate) => candidate.name === name);
    if (option === undefined) throw new InvocationError(`/${definition.name} has no option ${name}`);
    const isFocused = name === focused;
    if (!isFocused) checkValue(option, value);
    typed.push({
      type: option.type,
      name,
      value: isFocused ? String(value) : value,
      ...(isFocused ? { focused: true } : {}),
    });
  }
  if (focused === undefined) {
    for (const option of level) {
      if (option.required === true && !(option.name in values))
        throw new InvocationError(`/${definition.name}: ${option.name} is required`);
    }
  }
  return { options: wrap(typed), typed };
}

function checkValue(option: OptionDefinition, value: OptionValue): void {
  const ok =
    option.type === OptionType.boolean
      ? typeof value === "boolean"
      : option.type === OptionType.integer
        ? Number.isInteger(value)
        : option.type === OptionType.number
          ? typeof value === "number"
          : typeof value === "string";
  if (!ok) throw new InvocationError(`option ${option.name} cannot take ${JSON.stringify(value)}`);
  if (option.choices !== undefined && !option.choices.some((choice) => choice.value === value))
    throw new InvocationError(`option ${option.name} offers no choice ${JSON.stringify(value)}`);
  // Discord's client enforces the declared ranges before anything is sent.
  const outOfRange =
    typeof value === "number"
      ? value < (option.min_value ?? -Infinity) || value > (option.max_value ?? Infinity)
      : typeof value === "string" &&
        (value.length < (option.min_length ?? 0) || value.length > (option.max_length ?? 6000));
  if (outOfRange)
    throw new InvocationError(`option ${option.name} is out of its range: ${JSON.stringify(value)}`);
}

export function newInteraction(
  fields: Pick<InteractionRecord, "kind" | "command" | "guildId" | "channelId" | "userId" | "createdAt">,
): InteractionRecord {
  return {
    ...fields,
    id: snowflake(),
    token: `aW50ZXJhY3Rpb24${randomBytes(48).toString("base64url")}`,
    responses: [],
    rejected: [],
  };
}

export interface DiscordError {
  readonly status: number;
  readonly code: number;
  readonly message: string;
}

const UNKNOWN_INTERACTION: DiscordError = { status: 404, code: 10062, message: "Unknown interaction" };
const ALREADY_ACKNOWLEDGED: DiscordError = {
  status: 400,
  code: 40060,
  message: "Interaction has already been acknowledged.",
};
const UNKNOWN_WEBHOOK: DiscordError = { status: 404, code: 10015, message: "Unknown Webhook" };
const UNKNOWN_MESSAGE: DiscordError = { status: 404, code: 10008, message: "Unknown Message" };
const BAD_CALLBACK: DiscordError = { status: 400, code: 50035, message: "Invalid Form Body" };

function messageFields(data: Record<string, unknown> | undefined) {
  return {
    content: typeof data?.content === "string" ? data.content : undefined,
    embeds: Array.isArray(data?.embeds) ? (data.embeds as Record<string, unknown>[]) : [],
  };
}

function flagsOf(data: Record<string, unknown> | undefined): number {
  return typeof data?.flags === "number" ? data.flags : 0;
}

/** The interaction callback route: Discord's acceptance rules for the initial response. */
export function acceptCallback(
  record: InteractionRecord,
  body: Record<string, unknown>,
  windowMs: number,
  now: number,
): DiscordError | InteractionResponse {
  const refuse = (error: DiscordError): DiscordError => {
    record.rejected.push({ code: error.code, at: now });
    return error;
  };
  if (now - record.createdAt > windowMs) return refuse(UNKNOWN_INTERACTION);
  if (record.responses.length > 0) return refuse(ALREADY_ACKNOWLEDGED);
  const data =
    typeof body.data === "object" && body.data !== null ? (body.data as Record<string, unknown>) : undefined;
  const ephemeral = (flagsOf(data) & EPHEMERAL) !== 0;
  let response: InteractionResponse;
  switch (body.type) {
    case CallbackType.reply:
      if (record.kind === "autocomplete") return refuse(BAD_CALLBACK);
      response = { kind: "reply", at: now, ephemeral, ...messageFields(data) };
      break;
    case CallbackType.defer:
      if (record.kind === "autocomplete") return refuse(BAD_CALLBACK);
      response = { kind: "defer", at: now, ephemeral, content: undefined, embeds: [] };
      break;
    case CallbackType.autocomplete: {
      if (record.kind !== "autocomplete" || !Array.isArray(data?.choices) || data.choices.length > 25)
        return refuse(BAD_CALLBACK);
      const choices = data.choices as { name: string; value: OptionValue }[];
      response = { kind: "autocomplete", at: now, ephemeral: false, content: undefined, embeds: [], choices };
      break;
    }
    case CallbackType.modal:
      if (record.kind !== "command" || data === undefined) return refuse(BAD_CALLBACK);
      response = { kind: "modal", at: now, ephemeral: false, content: undefined, embeds: [], modal: data };
      break;
    default:
      return refuse(BAD_CALLBACK);
  }
  record.responses.push(response);
  return response;
}

function initialMessage(record: InteractionRecord): InteractionResponse | undefined {
  const first = record.responses[0];
  return first?.kind === "reply" || first?.kind === "defer" ? first : undefined;
}

/** PATCH/DELETE of @original, POST of a follow-up: allowed for 15 minutes after an initial message. */
export function acceptWebhook(
  record: InteractionRecord | undefined,
  kind: "edit-original" | "delete-original" | "follow-up",
  body: Record<string, unknown>,
  now: number,
): DiscordError | InteractionResponse {
  if (record === undefined || now - record.createdAt > FOLLOW_UP_WINDOW_MS) return UNKNOWN_WEBHOOK;
  const initial = initialMessage(record);
  if (initial === undefined) return UNKNOWN_MESSAGE;
  if (kind === "delete-original" && record.responses.some((r) => r.kind === "delete-original"))
    return UNKNOWN_MESSAGE;
  const ephemeral = kind === "follow-up" ? (flagsOf(body) & EPHEMERAL) !== 0 : initial.ephemeral;
  const response: InteractionResponse = {
    kind,
    at: now,
    ephemeral,
    ...(kind === "delete-original" ? { content: undefined, embeds: [] } : messageFields(body)),
  };
  record.responses.push(response);
  return response;
}

export const INTERACTION_TYPE: Readonly<Record<InteractionKind, number>> = {
  command: 2,
  autocomplete: 4,
  "modal-submit": 5,
};

export { OptionType };
