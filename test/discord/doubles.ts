import type { APIModalInteractionResponseCallbackData } from "discord.js";
import type { Backend, ConversationStatus, PersonaApplyResult } from "../../src/bridge/types.ts";
import type { ConversationControl, JoinRequest } from "../../src/conversation/types.ts";
import type {
  ChannelInfo,
  CommandContext,
  CommandServices,
  GuildAccess,
  MemberInfo,
  ModalContext,
  ReplyMessage,
  RoleInfo,
} from "../../src/discord/context.ts";
import { permissionBits } from "../../src/discord/permissions.ts";
import { InteractionResponder, type InteractionTransport } from "../../src/discord/responder.ts";
import { createMemoryLogger } from "../../src/log.ts";
import type { GuildSettings } from "../../src/persona.ts";
import type { GuildStore } from "../../src/store/guild-store.ts";
import { openSqliteStore } from "../../src/store/sqlite-store.ts";
import { testDefaults, testGuildId } from "../store/helpers/defaults.ts";

/** Interaction and guild doubles that satisfy the handler contexts, with a real responder. */

export const GUILD_ID = testGuildId(100);
export const USER_ID = testGuildId(101);
export const VOICE: ChannelInfo = { id: testGuildId(102), name: "Lounge", kind: "voice" };
export const OTHER_VOICE: ChannelInfo = { id: testGuildId(103), name: "Gaming", kind: "voice" };
export const TEXT: ChannelInfo = { id: testGuildId(104), name: "general", kind: "text" };
export const ROLE: RoleInfo = { id: testGuildId(105), name: "Talkers" };
export const MANAGE_GUILD = permissionBits(["ManageGuild"]);
export const ALL_CHANNEL_PERMISSIONS = permissionBits([
  "ViewChannel",
  "Connect",
  "Speak",
  "SendMessages",
  "EmbedLinks",
]);

export type TransportCall =
  | { readonly type: "reply" | "editReply" | "followUp"; readonly message: ReplyMessage }
  | { readonly type: "deferReply"; readonly ephemeral: boolean }
  | { readonly type: "showModal"; readonly modal: APIModalInteractionResponseCallbackData };

export class RecordingTransport implements InteractionTransport {
  readonly calls: TransportCall[] = [];
  /** Set to make every call fail, like an interaction Discord has already expired. */
  failure: Error | undefined;

  async reply(message: ReplyMessage) {
    this.#record({ type: "reply", message });
  }
  async deferReply(ephemeral: boolean) {
    this.#record({ type: "deferReply", ephemeral });
  }
  async editReply(message: ReplyMessage) {
    this.#record({ type: "editReply", message });
  }
  async followUp(message: ReplyMessage) {
    this.#record({ type: "followUp", message });
  }
  async showModal(modal: APIModalInteractionResponseCallbackData) {
    this.#record({ type: "showModal", modal });
  }

  /** The messages the user saw, in order, with whether each was visible only to them. */
  get messages(): ReplyMessage[] {
    return this.calls.flatMap((call) => ("message" in call ? [call.message] : []));
  }

  get lastText(): string {
    const last = this.messages.at(-1);
    return [last?.content ?? "", ...(last?.embeds ?? []).map((embed) => JSON.stringify(embed))].join("\n");
  }

  #record(call: TransportCall): void {
    if (this.failure !== undefined) throw this.failure;
    this.calls.push(call);
  }
}

export class FakeGuild implements GuildAccess {
  readonly id = GUILD_ID;
  readonly botName = "Voicelive";
  readonly channels = new Map<string, ChannelInfo>(
    [VOICE, OTHER_VOICE, TEXT].map((channel) => [channel.id, channel]),
  );
  readonly voiceStates = new Map<string, string>([[USER_ID, VOICE.id]]);
  readonly permissions = new Map<string, bigint>(
    [...this.channels.keys()].map((id) => [id, ALL_CHANNEL_PERMISSIONS]),
  );
  readonly members = new Map<string, MemberInfo>([[USER_ID, { bot: false, roleIds: [], permissions: 0n }]]);
  readonly displayNames = new Map<string, string>([[USER_ID, "Tester"]]);
  readonly sent: { channelId: string; text: string; id: string }[] = [];
  readonly edits: { channelId: string; messageId: string; text: string }[] = [];
  readonly adapterCreator = () => ({ sendPayload: () => false, destroy: () => undefined });

  channel(channelId: string) {
    return this.channels.get(channelId);
  }
  voiceChannelOf(userId: string) {
    return this.voiceStates.get(userId) ?? null;
  }
  botPermissionsIn(channelId: string) {
    return this.permissions.get(channelId) ?? 0n;
  }
  async member(userId: string) {
    return this.members.get(userId);
  }
  displayName(userId: string) {
    return this.displayNames.get(userId);
  }
  humansIn(voiceChannelId: string) {
    return [...this.voiceStates]
      .filter(([userId, channelId]) => channelId === voiceChannelId && this.members.get(userId)?.bot !== true)
      .map(([userId]) => this.displayNames.get(userId) ?? "someone");
  }
  async send(channelId: string, text: string) {
    const id = String(this.sent.length + 1);
    this.sent.push({ channelId, text, id });
    return id;
  }
  async edit(channelId: string, messageId: string, text: string) {
    this.edits.push({ channelId, messageId, text });
  }
}

export class FakeConversations implements ConversationControl {
  readonly backend: Backend = "azure";
  readonly joins: JoinRequest[] = [];
  readonly applied: GuildSettings[] = [];
  readonly left: string[] = [];
  readonly rosterChanges: string[] = [];
  readonly active = new Map<string, string>();
  joinFailure: Error | undefined;
  /** How long join says its connection waits for the Voice Live budget (none: no wait). */
  connectionWaitMs: number | undefined;
  applyResult: PersonaApplyResult | Error = "applied";
  /** What the transport had seen when join was called (to check the deferral came first). */
  callsAtJoin: readonly TransportCall[] | undefined;
  transport: RecordingTransport | undefined;

  async join(request: JoinRequest) {
    this.callsAtJoin = [...(this.transport?.calls ?? [])];
    if (this.connectionWaitMs !== undefined) request.onConnectionWait?.(this.connectionWaitMs);
    if (this.joinFailure !== undefined) throw this.joinFailure;
    this.joins.push(request);
    this.active.set(request.guildId, request.channelId);
  }
  async leave(guildId: string) {
    this.left.push(guildId);
    return this.active.delete(guildId);
  }
  isActive(guildId: string) {
    return this.active.has(guildId);
  }
  rosterChanged(guildId: string) {
    this.rosterChanges.push(guildId);
  }
  status(guildId: string): ConversationStatus | undefined {
    const channelId = this.active.get(guildId);
    if (channelId === undefined) return undefined;
    return {
      guildId,
      channelId,
      backend: this.backend,
      voiceConnection: "ready",
      voiceLive: "connected",
      startedAt: Date.now() - 90_000,
      speakers: 1,
      botSpeaking: false,
      bridgeInputLatencyMs: { p50: 21, p99: 43 },
      bridgeOutputLatencyMs: undefined,
      recentResponseMs: [800, 1200, 700],
    };
  }
  async applySettings(_guildId: string, settings: GuildSettings) {
    this.applied.push(settings);
    if (this.applyResult instanceof Error) throw this.applyResult;
    return this.applyResult;
  }
  async closeAll() {
    this.active.clear();
  }
}

export type OptionValue = string | number | boolean | ChannelInfo | RoleInfo;

export interface Harness {
  readonly store: GuildStore;
  readonly conversations: FakeConversations;
  readonly guild: FakeGuild;
  readonly transport: RecordingTransport;
  readonly services: CommandServices;
  readonly logLines: string[];
  /** Guilds whose conversation /join reported as started. */
  readonly started: string[];
}

export async function createHarness(): Promise<Harness> {
  const memory = createMemoryLogger();
  const store = await openSqliteStore({ path: ":memory:", defaults: testDefaults, logger: memory.logger });
  const conversations = new FakeConversations();
  const transport = new RecordingTransport();
  conversations.transport = transport;
  const started: string[] = [];
  return {
    store,
    conversations,
    guild: new FakeGuild(),
    transport,
    services: {
      store,
      conversations,
      logger: memory.logger,
      conversationStarted: (guildId) => started.push(guildId),
    },
    logLines: memory.lines,
    started,
  };
}

interface ContextOptions {
  readonly subcommand?: string;
  readonly options?: Readonly<Record<string, OptionValue>>;
  readonly memberPermissions?: bigint | null;
  readonly inGuild?: boolean;
}

function isChannel(value: OptionValue | undefined): value is ChannelInfo {
  return typeof value === "object" && "kind" in value;
}

export function commandContext(
  harness: Harness,
  commandName: string,
  context: ContextOptions = {},
): CommandContext {
  const responder = new InteractionResponder(harness.transport);
  const values = context.options ?? {};
  const inGuild = context.inGuild ?? true;
  return {
    guildId: inGuild ? GUILD_ID : null,
    userId: USER_ID,
    memberPermissions: context.memberPermissions === undefined ? MANAGE_GUILD : context.memberPermissions,
    guild: inGuild ? harness.guild : null,
    commandName,
    options: {
      subcommand: context.subcommand ?? null,
      string: (name) => {
        const value = values[name];
        return typeof value === "string" ? value : null;
      },
      number: (name) => {
        const value = values[name];
        return typeof value === "number" ? value : null;
      },
      integer: (name) => {
        const value = values[name];
        return typeof value === "number" ? value : null;
      },
      boolean: (name) => {
        const value = values[name];
        return typeof value === "boolean" ? value : null;
      },
      channel: (name) => {
        const value = values[name];
        return isChannel(value) ? value : null;
      },
      role: (name) => {
        const value = values[name];
        return typeof value === "object" && !isChannel(value) ? value : null;
      },
    },
    get state() {
      return responder.state;
    },
    reply: (message) => responder.reply(message),
    defer: (options) => responder.defer(options),
    showModal: (modal) => responder.showModal(modal),
  };
}

export function modalContext(
  harness: Harness,
  customId: string,
  fields: Readonly<Record<string, string>>,
  memberPermissions: bigint | null = MANAGE_GUILD,
): ModalContext {
  const responder = new InteractionResponder(harness.transport);
  return {
    guildId: GUILD_ID,
    userId: USER_ID,
    memberPermissions,
    guild: harness.guild,
    customId,
    field: (id) => fields[id] ?? null,
    get state() {
      return responder.state;
    },
    reply: (message) => responder.reply(message),
    defer: (options) => responder.defer(options),
  };
}

/** A schedule whose time only moves when the test says so. */
export class ManualClock {
  now = 0;
  readonly #timers = new Map<number, { at: number; callback: () => void }>();
  #nextId = 0;

  readonly schedule = (callback: () => void, delayMs: number): (() => void) => {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.now + delayMs, callback });
    return () => this.#timers.delete(id);
  };

  get pending(): number {
    return this.#timers.size;
  }

  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      const due = [...this.#timers.entries()]
        .filter(([, timer]) => timer.at <= until)
        .sort((a, b) => a[1].at - b[1].at)[0];
      if (due === undefined) break;
      this.#timers.delete(due[0]);
      this.now = due[1].at;
      due[1].callback();
    }
    this.now = until;
  }
}
