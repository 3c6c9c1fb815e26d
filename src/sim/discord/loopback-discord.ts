import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type Logger, log } from "../../log.ts";
import { snowflake } from "../snowflake.ts";
import type { LoopbackVoiceServer } from "../voice-server.ts";
import {
  type GatewayCounters,
  type GatewaySession,
  type GatewayVoiceRequest,
  LoopbackGateway,
} from "./gateway.ts";
import {
  acceptCallback,
  acceptWebhook,
  buildOptions,
  type CommandDefinition,
  type DiscordError,
  INTERACTION_TYPE,
  type InteractionKind,
  type InteractionRecord,
  type InteractionResponse,
  InvocationError,
  newInteraction,
  OptionType,
  type OptionValue,
} from "./interactions.ts";
import {
  apiError,
  type RecordedRequest,
  type RestAnswer,
  RestApi,
  type Route,
  type ScriptedFailure,
} from "./rest.ts";
import {
  apiChannel,
  apiGuild,
  apiMember,
  apiRole,
  apiUser,
  apiVoiceState,
  ChannelKind,
  type ChannelTypeNumber,
  newGuild,
  type Overwrite,
  Permission,
  permissionsIn,
  type SimGuildState,
  type SimUserAccount,
} from "./world.ts";

/**
 * A loopback Discord: REST v10 and the gateway v10 on 127.0.0.1, with guilds, channels, roles,
 * members and voice states, that the unmodified discord.js client logs in to. Voice joins answer
 * with VOICE_SERVER_UPDATEs pointing at a LoopbackVoiceServer, so @discordjs/voice connects there.
 * Tests and the simulator script it (users join and leave, moderators move the bot, the gateway
 * drops) and read what the bot sent: interaction responses and channel messages.
 */

export interface LoopbackDiscordOptions {
  readonly voice: LoopbackVoiceServer;
  /** The bot token the gateway and REST accept (default: a random one). */
  readonly token?: string;
  readonly heartbeatIntervalMs?: number;
  /** Discord's 3 s for the initial interaction response. */
  readonly interactionWindowMs?: number;
  /** GET /gateway/bot's recommended shard count. */
  readonly recommendedShards?: number;
  readonly logger?: Logger;
}

export interface SimGuildHandle {
  readonly id: string;
  readonly ownerId: string;
  readonly textChannelId: string;
  readonly voiceChannelId: string;
}

export interface ChannelMessage {
  readonly id: string;
  readonly channelId: string;
  readonly authorId: string;
  /** Date.now() when posted. */
  readonly at: number;
  /** The content as posted, then after each edit, with when. */
  readonly versions: { readonly content: string; readonly embeds: readonly unknown[]; readonly at: number }[];
}

export interface InvokeOptions {
  /** The text channel the command is typed in (default: the guild's first text channel). */
  readonly channelId?: string;
  /**
   * The server's Integrations settings let this member use a command whose
   * default_member_permissions they lack (Discord would not offer it otherwise).
   */
  readonly permissionOverride?: boolean;
  /** The interaction was created this long ago (a delivery delayed past the response window). */
  readonly ageMs?: number;
}

const DEFAULT_WINDOW_MS = 3_000;
const DEFAULT_HEARTBEAT_MS = 41_250;
const EPHEMERAL = 64;

export class LoopbackDiscord {
  readonly token: string;
  readonly applicationId = snowflake();
  readonly bot: SimUserAccount;
  readonly interactions: InteractionRecord[] = [];
  readonly #voice: LoopbackVoiceServer;
  readonly #http: Server;
  readonly #rest: RestApi;
  readonly #gateway: LoopbackGateway;
  readonly #logger: Logger;
  readonly #windowMs: number;
  readonly #recommendedShards: number;
  readonly #guilds = new Map<string, SimGuildState>();
  readonly #commands = new Map<string, CommandDefinition>();
  readonly #messages = new Map<string, ChannelMessage[]>();
  readonly #responseWaiters = new Set<() => void>();
  readonly #messageListeners = new Set<(message: ChannelMessage) => void>();

  private constructor(options: LoopbackDiscordOptions) {
    this.token =
      options.token ??
      `${Buffer.from(this.applicationId).toString("base64url")}.${randomBytes(20).toString("base64url")}`;
    this.bot = { id: this.applicationId, username: "voicelive", bot: true };
    this.#voice = options.voice;
    this.#logger = options.logger ?? log.child({ component: "loopback-discord" });
    this.#windowMs = options.interactionWindowMs ?? DEFAULT_WINDOW_MS;
    this.#recommendedShards = options.recommendedShards ?? 1;
    this.#rest = new RestApi(this.#routes(), this.token, this.#logger);
    this.#http = createServer((req, res) => this.#rest.handle(req, res));
    this.#gateway = new LoopbackGateway(
      this.#http,
      {
        token: this.token,
        ready: () => ({ user: apiUser(this.bot), applicationId: this.applicationId }),
        guildsOf: () =>
          [...this.#guilds.values()].map((guild) => ({ id: guild.id, payload: apiGuild(guild) })),
        voiceRequest: (session, request) => this.#botVoiceRequest(session, request),
      },
      { heartbeatIntervalMs: options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_MS, logger: this.#logger },
    );
  }

  static async start(options: LoopbackDiscordOptions): Promise<LoopbackDiscord> {
    const discord = new LoopbackDiscord(options);
    await new Promise<void>((resolve, reject) => {
      discord.#http.once("error", reject);
      discord.#http.listen(0, "127.0.0.1", () => {
        discord.#http.off("error", reject);
        resolve();
      });
    });
    return discord;
  }

  /** What DISCORD_API_URL is set to. */
  get apiUrl(): string {
    return `http://127.0.0.1:${(this.#http.address() as AddressInfo).port}/api`;
  }

  /** Every REST request the bot made, oldest first. */
  get requests(): readonly RecordedRequest[] {
    return this.#rest.requests;
  }

  get gatewayCounters(): Readonly<GatewayCounters> {
    return this.#gateway.counters;
  }

  /** The commands Discord knows (deployed with PUT, or given here as deploy-commands would). */
  registerCommands(definitions: readonly CommandDefinition[]): void {
    for (const definition of definitions) this.#commands.set(definition.name, definition);
  }

  // --- the world ---------------------------------------------------------------------------

  /** A server with an owner, a text channel and a voice channel; announced if the bot is online. */
  addGuild(name = "Loopback server"): SimGuildHandle {
    const owner: SimUserAccount = { id: snowflake(), username: "owner", bot: false };
    const guild = newGuild(name, owner);
    const textChannelId = this.#newChannel(guild, "general", ChannelKind.text);
    const voiceChannelId = this.#newChannel(guild, "Voice", ChannelKind.voice);
    guild.members.set(this.bot.id, { user: this.bot, roleIds: [], joinedAt: new Date().toISOString() });
    this.#guilds.set(guild.id, guild);
    this.#gateway.dispatch("GUILD_CREATE", apiGuild(guild), guild.id);
    return { id: guild.id, ownerId: owner.id, textChannelId, voiceChannelId };
  }

  addChannel(guildId: string, name: string, type: ChannelTypeNumber = ChannelKind.voice): string {
    const guild = this.#guild(guildId);
    const id = this.#newChannel(guild, name, type);
    this.#gateway.dispatch("CHANNEL_CREATE", apiChannel(guild, guild.channels.get(id)!), guildId);
    return id;
  }

  addRole(guildId: string, name: string, permissions: bigint): string {
    const guild = this.#guild(guildId);
    const role = { id: snowflake(), name, permissions, position: guild.roles.size };
    guild.roles.set(role.id, role);
    this.#gateway.dispatch("GUILD_ROLE_CREATE", { guild_id: guildId, role: apiRole(role) }, guildId);
    return role.id;
  }

  /** A member (GUILD_MEMBER_ADD needs a privileged intent the bot does not ask for: no dispatch). */
  addMember(
    guildId: string,
    options: { id?: string; username?: string; bot?: boolean; roleIds?: string[] } = {},
  ): string {
    const guild = this.#guild(guildId);
    const user: SimUserAccount = {
      id: options.id ?? snowflake(),
      username: options.username ?? `user${guild.members.size}`,
      bot: options.bot ?? false,
    };
    guild.members.set(user.id, {
      user,
      roleIds: [...(options.roleIds ?? [])],
      joinedAt: new Date().toISOString(),
    });
    return user.id;
  }

  /** Sets a channel permission overwrite for a role or member (CHANNEL_UPDATE). */
  setOverwrite(guildId: string, channelId: string, overwrite: Overwrite): void {
    const guild = this.#guild(guildId);
    const channel = this.#channel(guild, channelId);
    const index = channel.overwrites.findIndex((o) => o.id === overwrite.id);
    if (index >= 0) channel.overwrites.splice(index, 1);
    channel.overwrites.push({ ...overwrite });
    this.#gateway.dispatch("CHANNEL_UPDATE", apiChannel(guild, channel), guildId);
  }

  /** A user joins, moves to or (null) leaves a voice channel, as their client would. */
  setUserVoice(guildId: string, userId: string, channelId: string | null): void {
    const guild = this.#guild(guildId);
    if (!guild.members.has(userId)) throw new Error(`${userId} is not a member of guild ${guildId}`);
    if (channelId !== null) this.#channel(guild, channelId);
    const previous = guild.voiceStates.get(userId);
    const sessionId = previous?.sessionId ?? randomBytes(16).toString("hex");
    if (channelId === null) guild.voiceStates.delete(userId);
    else guild.voiceStates.set(userId, { userId, channelId, sessionId, selfMute: false, selfDeaf: false });
    const botChannel = guild.voiceStates.get(this.bot.id)?.channelId;
    if (botChannel !== undefined) {
      if (channelId === botChannel) this.#voice.addUser(guildId, userId);
      else if (previous?.channelId === botChannel) this.#voice.removeUser(guildId, userId);
    }
    const state = guild.voiceStates.get(userId) ?? { userId, sessionId };
    this.#gateway.dispatch("VOICE_STATE_UPDATE", apiVoiceState(guild, state), guildId);
  }

  /** The voice channel the bot is in, per Discord's voice states. */
  botVoiceChannel(guildId: string): string | null {
    return this.#guild(guildId).voiceStates.get(this.bot.id)?.channelId ?? null;
  }

  /** A moderator drags the bot to another channel: its voice connection closes 4014, then new updates. */
  moveBot(guildId: string, channelId: string): void {
    const guild = this.#guild(guildId);
    const state = guild.voiceStates.get(this.bot.id);
    if (state === undefined) throw new Error(`the bot is not in a voice channel of ${guildId}`);
    this.#channel(guild, channelId);
    this.#voice.closeSession(guildId, 4014);
    state.channelId = channelId;
    this.#voice.noteBotVoiceState({ guildId, channelId, selfMute: state.selfMute, selfDeaf: state.selfDeaf });
    this.#announceUsersTo(guild, channelId);
    this.#gateway.dispatch("VOICE_STATE_UPDATE", this.#voiceState(guild, this.bot.id), guildId);
    this.#sendVoiceServer(guildId);
  }

  /** A moderator disconnects the bot from voice. */
  disconnectBot(guildId: string): void {
    const guild = this.#guild(guildId);
    this.#voice.closeSession(guildId, 4014);
    this.#leaveVoice(guild, this.bot.id);
  }

  /** The channel is deleted; everyone in it (the bot included) is disconnected. */
  deleteChannel(guildId: string, channelId: string): void {
    const guild = this.#guild(guildId);
    const channel = this.#channel(guild, channelId);
    for (const state of [...guild.voiceStates.values()]) {
      if (state.channelId !== channelId) continue;
      if (state.userId === this.bot.id) this.#voice.closeSession(guildId, 4014);
      this.#leaveVoice(guild, state.userId);
    }
    guild.channels.delete(channelId);
    this.#gateway.dispatch("CHANNEL_DELETE", apiChannel(guild, channel), guildId);
  }

  /** The bot is kicked from the server: GUILD_DELETE, and its voice connection closes. */
  removeBot(guildId: string): void {
    this.#guild(guildId);
    this.#voice.closeSession(guildId, 4014);
    this.#guilds.delete(guildId);
    this.#gateway.dispatch("GUILD_DELETE", { id: guildId }, guildId);
  }

  /** The guild's voice server changes mid-conversation: a new VOICE_SERVER_UPDATE with a new token. */
  moveVoiceServer(guildId: string): void {
    if (this.botVoiceChannel(guildId) === null) throw new Error(`the bot is not in voice in ${guildId}`);
    this.#sendVoiceServer(guildId);
  }

  // --- gateway faults ----------------------------------------------------------------------

  /** The connection drops without a close frame (1006); the client resumes. */
  dropGateway(): void {
    this.#gateway.dropConnections();
  }

  /** false withholds heartbeat ACKs: a zombie connection the client must notice and replace. */
  setHeartbeatAcks(enabled: boolean): void {
    this.#gateway.ackHeartbeats = enabled;
  }

  /** op 7 Reconnect. */
  requestReconnect(): void {
    this.#gateway.requestReconnect();
  }

  /** Forgets every session and drops the connections: the resume gets op 9, the client identifies. */
  invalidateSessions(): void {
    this.#gateway.invalidateSessions();
  }

  /** The next matching REST requests fail (429 with retry-after, or a 5xx). */
  failRequests(failure: ScriptedFailure): void {
    this.#rest.failNext(failure);
  }

  // --- interactions ------------------------------------------------------------------------

  /** A member runs a slash command ("persona set") with typed option values. */
  command(
    guildId: string,
    userId: string,
    name: string,
    values: Readonly<Record<string, OptionValue>> = {},
    options: InvokeOptions = {},
  ): InteractionRecord {
    return this.#invoke("command", guildId, userId, name, values, undefined, options);
  }

  /** A member types into an autocomplete option; the bot answers with choices (type 8). */
  autocomplete(
    guildId: string,
    userId: string,
    name: string,
    values: Readonly<Record<string, OptionValue>>,
    focused: string,
    options: InvokeOptions = {},
  ): InteractionRecord {
    return this.#invoke("autocomplete", guildId, userId, name, values, focused, options);
  }

  /** The member submits the modal the bot showed in answer to `shown`, with these field values. */
  submitModal(shown: InteractionRecord, values: Readonly<Record<string, string>>): InteractionRecord {
    const modal = shown.responses.find((response) => response.kind === "modal")?.modal;
    if (modal === undefined) throw new InvocationError(`interaction ${shown.id} showed no modal`);
    const guild = this.#guild(shown.guildId);
    const record = newInteraction({
      kind: "modal-submit",
      command: shown.command,
      guildId: shown.guildId,
      channelId: shown.channelId,
      userId: shown.userId,
      createdAt: Date.now(),
    });
    const components = modalComponents(modal).map((component) => ({
      ...component,
      component: { ...component.component, value: values[component.component.custom_id] ?? "" },
    }));
    this.#dispatchInteraction(guild, record, { custom_id: modal.custom_id, components });
    return record;
  }

  /** Resolves once the interaction has `count` responses (or rejects after the timeout). */
  async waitForResponses(
    record: InteractionRecord,
    count = 1,
    timeoutMs = 10_000,
  ): Promise<InteractionResponse[]> {
    await this.#until(
      () => record.responses.length >= count,
      timeoutMs,
      () => `interaction /${record.command} got ${record.responses.length} of ${count} responses`,
    );
    return record.responses;
  }

  /** Messages the bot posted in a channel (captions, notices), with their edits. */
  messages(channelId: string): readonly ChannelMessage[] {
    return this.#messages.get(channelId) ?? [];
  }

  /** Called after every message the bot posts or edits (the message with its new version). */
  onMessage(listener: (message: ChannelMessage) => void): () => void {
    this.#messageListeners.add(listener);
    return () => this.#messageListeners.delete(listener);
  }

  /** Resolves once `condition` holds, rechecked after every REST request and dispatch. */
  async until(condition: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
    await this.#until(condition, timeoutMs, () => what);
  }

  async close(): Promise<void> {
    this.#gateway.close();
    this.#http.closeAllConnections();
    await new Promise<void>((resolve) => this.#http.close(() => resolve()));
  }

  // --- internals ---------------------------------------------------------------------------

  #until(condition: () => boolean, timeoutMs: number, describe: () => string): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!condition()) return;
        finish();
        resolve();
      };
      const finish = (): void => {
        clearTimeout(timer);
        clearInterval(poll);
        this.#responseWaiters.delete(check);
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out after ${timeoutMs} ms: ${describe()}`));
      }, timeoutMs);
      // State also changes outside REST (gateway dispatches, voice): a slow poll covers those.
      const poll = setInterval(check, 20);
      this.#responseWaiters.add(check);
    });
  }

  #messagePosted(message: ChannelMessage): void {
    for (const listener of this.#messageListeners) {
      try {
        listener(message);
      } catch (error) {
        this.#logger.warn({ err: error }, "message listener failed");
      }
    }
  }

  #changed(): void {
    for (const waiter of [...this.#responseWaiters]) waiter();
  }

  #invoke(
    kind: InteractionKind,
    guildId: string,
    userId: string,
    name: string,
    values: Readonly<Record<string, OptionValue>>,
    focused: string | undefined,
    options: InvokeOptions,
  ): InteractionRecord {
    const guild = this.#guild(guildId);
    if (!guild.members.has(userId)) throw new InvocationError(`${userId} is not a member of ${guildId}`);
    const [commandName = "", subcommand, extra] = name.trim().split(/\s+/);
    if (extra !== undefined) throw new InvocationError(`subcommand groups are not modelled: ${name}`);
    const definition = this.#commands.get(commandName);
    if (definition === undefined) throw new InvocationError(`/${commandName} is not registered`);
    const required = BigInt(definition.default_member_permissions ?? 0);
    const channelId = options.channelId ?? this.#firstTextChannel(guild);
    if (
      required !== 0n &&
      options.permissionOverride !== true &&
      (permissionsIn(guild, userId, channelId) & required) !== required
    ) {
      throw new InvocationError(`Discord hides /${commandName} from members without its default permissions`);
    }
    const built = buildOptions(definition, subcommand, values, focused);
    const record = newInteraction({
      kind,
      command: name.trim(),
      guildId,
      channelId,
      userId,
      createdAt: Date.now() - (options.ageMs ?? 0),
    });
    const resolved: { channels?: Record<string, object>; roles?: Record<string, object> } = {};
    for (const option of built.typed) {
      if (option.focused === true) continue;
      if (option.type === OptionType.channel) {
        const channel = this.#channel(guild, String(option.value));
        resolved.channels = {
          ...resolved.channels,
          [channel.id]: {
            ...apiChannel(guild, channel),
            permissions: permissionsIn(guild, userId, channel.id).toString(),
          },
        };
      } else if (option.type === OptionType.role) {
        const role = guild.roles.get(String(option.value));
        if (role === undefined) throw new InvocationError(`no role ${String(option.value)}`);
        resolved.roles = { ...resolved.roles, [role.id]: apiRole(role) };
      }
    }
    this.#dispatchInteraction(guild, record, {
      id: snowflake(),
      name: commandName,
      type: 1,
      guild_id: guildId,
      options: built.options,
      ...(Object.keys(resolved).length === 0 ? {} : { resolved }),
    });
    return record;
  }

  #dispatchInteraction(guild: SimGuildState, record: InteractionRecord, data: object): void {
    const member = guild.members.get(record.userId)!;
    const channel = this.#channel(guild, record.channelId);
    this.interactions.push(record);
    this.#gateway.dispatch(
      "INTERACTION_CREATE",
      {
        id: record.id,
        application_id: this.applicationId,
        type: INTERACTION_TYPE[record.kind],
        data,
        guild_id: guild.id,
        channel_id: channel.id,
        channel: { ...apiChannel(guild, channel) },
        member: {
          ...apiMember(member),
          permissions: permissionsIn(guild, record.userId, channel.id).toString(),
        },
        token: record.token,
        version: 1,
        app_permissions: permissionsIn(guild, this.bot.id, channel.id).toString(),
        locale: "en-US",
        guild_locale: "en-US",
        entitlements: [],
        authorizing_integration_owners: { "0": guild.id },
        context: 0,
        attachment_size_limit: 10 * 1024 * 1024,
      },
      guild.id,
    );
  }

  #routes(): Route[] {
    const route = (method: string, pattern: RegExp, auth: boolean, handle: Route["handle"]): Route => ({
      method,
      pattern,
      auth,
      handle: (params, request) => {
        const answer = handle(params, request);
        setImmediate(() => this.#changed());
        return answer;
      },
    });
    return [
      route("GET", /^\/gateway\/bot$/, true, () => ({
        status: 200,
        body: {
          url: `ws://127.0.0.1:${(this.#http.address() as AddressInfo).port}/gateway`,
          shards: this.#recommendedShards,
          session_start_limit: { total: 1000, remaining: 999, reset_after: 0, max_concurrency: 1 },
        },
      })),
      route("GET", /^\/users\/@me$/, true, () => ({ status: 200, body: apiUser(this.bot) })),
      route("GET", /^\/applications\/@me$/, true, () => ({
        status: 200,
        body: {
          id: this.applicationId,
          name: this.bot.username,
          flags: 0,
          bot_public: true,
          bot: apiUser(this.bot),
        },
      })),
      route("PUT", /^\/applications\/(\d+)\/(?:guilds\/\d+\/)?commands$/, true, (params, request) =>
        this.#putCommands(params[0]!, request.body),
      ),
      route("POST", /^\/interactions\/(\d+)\/([^/]+)\/callback$/, false, (params, request) =>
        this.#callback(params[0]!, params[1]!, request),
      ),
      route("PATCH", /^\/webhooks\/(\d+)\/([^/]+)\/messages\/@original$/, false, (params, request) =>
        this.#webhook(params, "edit-original", request.body),
      ),
      route("DELETE", /^\/webhooks\/(\d+)\/([^/]+)\/messages\/@original$/, false, (params, request) =>
        this.#webhook(params, "delete-original", request.body),
      ),
      route("POST", /^\/webhooks\/(\d+)\/([^/]+)$/, false, (params, request) =>
        this.#webhook(params, "follow-up", request.body),
      ),
      route("POST", /^\/channels\/(\d+)\/messages$/, true, (params, request) =>
        this.#postMessage(params[0]!, request.body),
      ),
      route("PATCH", /^\/channels\/(\d+)\/messages\/(\d+)$/, true, (params, request) =>
        this.#editMessage(params[0]!, params[1]!, request.body),
      ),
      route("GET", /^\/guilds\/(\d+)\/members\/(\d+)$/, true, (params) => {
        const member = this.#guilds.get(params[0]!)?.members.get(params[1]!);
        return member === undefined
          ? apiError(404, 10007, "Unknown Member")
          : { status: 200, body: apiMember(member) };
      }),
    ];
  }

  #putCommands(applicationId: string, body: unknown): RestAnswer {
    if (applicationId !== this.applicationId) return apiError(403, 50001, "Missing Access");
    if (!Array.isArray(body)) return apiError(400, 50035, "Invalid Form Body");
    const definitions = body as CommandDefinition[];
    this.registerCommands(definitions);
    return {
      status: 200,
      body: definitions.map((definition) => ({
        ...definition,
        id: snowflake(),
        application_id: this.applicationId,
        version: snowflake(),
      })),
    };
  }

  #callback(
    id: string,
    token: string,
    request: { body: Record<string, unknown>; query: URLSearchParams },
  ): RestAnswer {
    const record = this.interactions.find((candidate) => candidate.id === id && candidate.token === token);
    if (record === undefined) return apiError(404, 10062, "Unknown interaction");
    const result = acceptCallback(record, request.body, this.#windowMs, Date.now());
    if (isError(result)) return apiError(result.status, result.code, result.message);
    if (request.query.get("with_response") !== "true") return { status: 204 };
    return {
      status: 200,
      body: {
        interaction: {
          id: record.id,
          type: INTERACTION_TYPE[record.kind],
          activity_instance_id: null,
          response_message_id: null,
          response_message_loading: result.kind === "defer",
          response_message_ephemeral: result.ephemeral,
        },
      },
    };
  }

  #webhook(
    params: readonly string[],
    kind: "edit-original" | "delete-original" | "follow-up",
    body: Record<string, unknown>,
  ): RestAnswer {
    const [applicationId, token] = params;
    const record =
      applicationId === this.applicationId
        ? this.interactions.find((candidate) => candidate.token === token)
        : undefined;
    const result = acceptWebhook(record, kind, body, Date.now());
    if (isError(result)) return apiError(result.status, result.code, result.message);
    if (kind === "delete-original") return { status: 204 };
    return {
      status: 200,
      body: this.#apiMessage(
        snowflake(),
        record!.channelId,
        result.content ?? "",
        result.embeds,
        result.ephemeral ? EPHEMERAL : 0,
      ),
    };
  }

  #postMessage(channelId: string, body: Record<string, unknown>): RestAnswer {
    const guild = this.#guildOfChannel(channelId);
    if (guild === undefined) return apiError(404, 10003, "Unknown Channel");
    const needed = Permission.viewChannel | Permission.sendMessages;
    if ((permissionsIn(guild, this.bot.id, channelId) & needed) !== needed)
      return apiError(403, 50013, "Missing Permissions");
    const content = typeof body.content === "string" ? body.content : "";
    const embeds = Array.isArray(body.embeds) ? (body.embeds as unknown[]) : [];
    if (content.length > 2000) return apiError(400, 50035, "Invalid Form Body");
    if (content === "" && embeds.length === 0) return apiError(400, 50006, "Cannot send an empty message");
    const message: ChannelMessage = {
      id: snowflake(),
      channelId,
      authorId: this.bot.id,
      at: Date.now(),
      versions: [{ content, embeds, at: Date.now() }],
    };
    const list = this.#messages.get(channelId) ?? [];
    list.push(message);
    this.#messages.set(channelId, list);
    this.#messagePosted(message);
    return { status: 200, body: this.#apiMessage(message.id, channelId, content, embeds, 0) };
  }

  #editMessage(channelId: string, messageId: string, body: Record<string, unknown>): RestAnswer {
    const message = this.#messages.get(channelId)?.find((candidate) => candidate.id === messageId);
    if (message === undefined) return apiError(404, 10008, "Unknown Message");
    const last = message.versions.at(-1)!;
    const content = typeof body.content === "string" ? body.content : last.content;
    if (content.length > 2000) return apiError(400, 50035, "Invalid Form Body");
    const embeds = Array.isArray(body.embeds) ? (body.embeds as unknown[]) : last.embeds;
    message.versions.push({ content, embeds, at: Date.now() });
    this.#messagePosted(message);
    return { status: 200, body: this.#apiMessage(message.id, channelId, content, embeds, 0) };
  }

  #apiMessage(id: string, channelId: string, content: string, embeds: readonly unknown[], flags: number) {
    return {
      id,
      type: 0,
      channel_id: channelId,
      author: apiUser(this.bot),
      content,
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: [],
      embeds,
      pinned: false,
      flags,
      components: [],
    };
  }

  #botVoiceRequest(session: GatewaySession, request: GatewayVoiceRequest): void {
    const guild = this.#guilds.get(request.guildId);
    if (guild === undefined) return;
    if (request.channelId === null) {
      this.#voice.noteBotVoiceState(request);
      this.#leaveVoice(guild, this.bot.id);
      return;
    }
    const channel = guild.channels.get(request.channelId);
    // Discord ignores a join the bot may not make: the library times out waiting for the updates.
    if (channel === undefined || channel.type === ChannelKind.text) return;
    if ((permissionsIn(guild, this.bot.id, channel.id) & Permission.connect) === 0n) return;
    const previous = guild.voiceStates.get(this.bot.id);
    this.#voice.noteBotVoiceState(request);
    guild.voiceStates.set(this.bot.id, {
      userId: this.bot.id,
      channelId: channel.id,
      sessionId: session.voiceSessionId,
      selfMute: request.selfMute,
      selfDeaf: request.selfDeaf,
    });
    this.#gateway.dispatch("VOICE_STATE_UPDATE", this.#voiceState(guild, this.bot.id), guild.id);
    if (previous?.channelId !== channel.id) this.#announceUsersTo(guild, channel.id);
    if (previous?.channelId === channel.id && previous.sessionId === session.voiceSessionId) return;
    this.#sendVoiceServer(guild.id);
  }

  /** The voice server learns who shares the bot's (new) channel, as its op 11 will tell the bot. */
  #announceUsersTo(guild: SimGuildState, channelId: string): void {
    for (const state of guild.voiceStates.values()) {
      if (state.userId === this.bot.id) continue;
      if (state.channelId === channelId) this.#voice.addUser(guild.id, state.userId);
      else this.#voice.removeUser(guild.id, state.userId);
    }
  }

  #sendVoiceServer(guildId: string): void {
    // On a later turn, as Discord sends it after the state update.
    setImmediate(() =>
      this.#gateway.dispatch(
        "VOICE_SERVER_UPDATE",
        { token: this.#voice.issueToken(guildId), guild_id: guildId, endpoint: this.#voice.endpoint },
        guildId,
      ),
    );
  }

  #leaveVoice(guild: SimGuildState, userId: string): void {
    const state = guild.voiceStates.get(userId);
    if (state === undefined) return;
    guild.voiceStates.delete(userId);
    if (userId !== this.bot.id) this.#voice.removeUser(guild.id, userId);
    this.#gateway.dispatch(
      "VOICE_STATE_UPDATE",
      apiVoiceState(guild, { userId, sessionId: state.sessionId }),
      guild.id,
    );
  }

  #voiceState(guild: SimGuildState, userId: string) {
    const state = guild.voiceStates.get(userId);
    if (state === undefined) throw new Error(`${userId} has no voice state`);
    return apiVoiceState(guild, state);
  }

  #newChannel(guild: SimGuildState, name: string, type: ChannelTypeNumber): string {
    const id = snowflake();
    guild.channels.set(id, { id, name, type, overwrites: [] });
    return id;
  }

  #guild(guildId: string): SimGuildState {
    const guild = this.#guilds.get(guildId);
    if (guild === undefined) throw new Error(`no guild ${guildId}`);
    return guild;
  }

  #channel(guild: SimGuildState, channelId: string) {
    const channel = guild.channels.get(channelId);
    if (channel === undefined) throw new InvocationError(`no channel ${channelId} in guild ${guild.id}`);
    return channel;
  }

  #guildOfChannel(channelId: string): SimGuildState | undefined {
    for (const guild of this.#guilds.values()) if (guild.channels.has(channelId)) return guild;
    return undefined;
  }

  #firstTextChannel(guild: SimGuildState): string {
    for (const channel of guild.channels.values()) if (channel.type === ChannelKind.text) return channel.id;
    throw new InvocationError(`guild ${guild.id} has no text channel`);
  }
}

function isError(value: DiscordError | InteractionResponse): value is DiscordError {
  return "code" in value;
}

interface ModalLabel {
  readonly type: number;
  readonly component: { readonly type: number; readonly custom_id: string };
}

/** The modal's text inputs, wrapped in Label components as a modal submit carries them. */
function modalComponents(modal: Record<string, unknown>): ModalLabel[] {
  const components = Array.isArray(modal.components) ? (modal.components as Record<string, unknown>[]) : [];
  const labels: ModalLabel[] = [];
  for (const component of components) {
    const inner = component.component as Record<string, unknown> | undefined;
    if (component.type === 18 && typeof inner?.custom_id === "string") {
      labels.push({ type: 18, component: { type: Number(inner.type), custom_id: inner.custom_id } });
    }
    const rows = Array.isArray(component.components)
      ? (component.components as Record<string, unknown>[])
      : [];
    for (const row of rows) {
      if (typeof row.custom_id === "string")
        labels.push({ type: 18, component: { type: Number(row.type), custom_id: row.custom_id } });
    }
  }
  return labels;
}
