import { snowflake } from "../snowflake.ts";

/**
 * The state a loopback Discord keeps for its guilds (channels, roles, members, voice states) and
 * its rendering into API objects, as gateway dispatches and REST answers carry them. Pure data: the
 * gateway and REST modules read and change it.
 */

export const ChannelKind = { text: 0, voice: 2, stage: 13 } as const;
export type ChannelTypeNumber = (typeof ChannelKind)[keyof typeof ChannelKind];

/** The permission bits the bot and its commands care about (Discord's values). */
export const Permission = {
  administrator: 1n << 3n,
  manageChannels: 1n << 4n,
  manageGuild: 1n << 5n,
  viewChannel: 1n << 10n,
  sendMessages: 1n << 11n,
  embedLinks: 1n << 14n,
  readMessageHistory: 1n << 16n,
  connect: 1n << 20n,
  speak: 1n << 21n,
  moveMembers: 1n << 24n,
  useVoiceActivity: 1n << 25n,
} as const;

const ALL_PERMISSIONS = (1n << 53n) - 1n;

/** What @everyone may do in a fresh server, near enough: see, talk, join voice, speak. */
export const EVERYONE_DEFAULT =
  Permission.viewChannel |
  Permission.sendMessages |
  Permission.embedLinks |
  Permission.readMessageHistory |
  Permission.connect |
  Permission.speak |
  Permission.useVoiceActivity;

export interface Overwrite {
  /** A role id or a member id. */
  readonly id: string;
  readonly type: 0 | 1;
  allow: bigint;
  deny: bigint;
}

export interface SimChannel {
  readonly id: string;
  name: string;
  readonly type: ChannelTypeNumber;
  readonly overwrites: Overwrite[];
}

export interface SimRole {
  readonly id: string;
  name: string;
  permissions: bigint;
  readonly position: number;
}

export interface SimUserAccount {
  readonly id: string;
  readonly username: string;
  readonly bot: boolean;
}

export interface SimMember {
  readonly user: SimUserAccount;
  readonly roleIds: string[];
  readonly joinedAt: string;
}

export interface SimVoiceState {
  readonly userId: string;
  channelId: string;
  /** The voice session id Discord assigns per gateway session (users: made up). */
  sessionId: string;
  selfMute: boolean;
  selfDeaf: boolean;
}

export interface SimGuildState {
  readonly id: string;
  readonly name: string;
  readonly ownerId: string;
  readonly channels: Map<string, SimChannel>;
  /** The @everyone role has the guild's id. */
  readonly roles: Map<string, SimRole>;
  readonly members: Map<string, SimMember>;
  readonly voiceStates: Map<string, SimVoiceState>;
}

export function newGuild(name: string, owner: SimUserAccount): SimGuildState {
  const id = snowflake();
  const guild: SimGuildState = {
    id,
    name,
    ownerId: owner.id,
    channels: new Map(),
    roles: new Map([[id, { id, name: "@everyone", permissions: EVERYONE_DEFAULT, position: 0 }]]),
    members: new Map(),
    voiceStates: new Map(),
  };
  guild.members.set(owner.id, { user: owner, roleIds: [], joinedAt: new Date().toISOString() });
  return guild;
}

/** Discord's permission algorithm: roles, then @everyone, role and member overwrites of the channel. */
export function permissionsIn(guild: SimGuildState, userId: string, channelId?: string): bigint {
  if (userId === guild.ownerId) return ALL_PERMISSIONS;
  const member = guild.members.get(userId);
  if (member === undefined) return 0n;
  let base = guild.roles.get(guild.id)?.permissions ?? 0n;
  for (const roleId of member.roleIds) base |= guild.roles.get(roleId)?.permissions ?? 0n;
  if ((base & Permission.administrator) !== 0n) return ALL_PERMISSIONS;
  const channel = channelId === undefined ? undefined : guild.channels.get(channelId);
  if (channel === undefined) return base;
  let permissions = base;
  const everyone = channel.overwrites.find((o) => o.id === guild.id);
  if (everyone !== undefined) permissions = (permissions & ~everyone.deny) | everyone.allow;
  let allow = 0n;
  let deny = 0n;
  for (const overwrite of channel.overwrites) {
    if (overwrite.type === 0 && member.roleIds.includes(overwrite.id)) {
      allow |= overwrite.allow;
      deny |= overwrite.deny;
    }
  }
  permissions = (permissions & ~deny) | allow;
  const own = channel.overwrites.find((o) => o.type === 1 && o.id === userId);
  if (own !== undefined) permissions = (permissions & ~own.deny) | own.allow;
  return permissions;
}

export function apiUser(user: SimUserAccount) {
  return {
    id: user.id,
    username: user.username,
    discriminator: "0",
    global_name: user.bot ? null : user.username,
    avatar: null,
    bot: user.bot,
    public_flags: 0,
  };
}

export function apiMember(member: SimMember) {
  return {
    user: apiUser(member.user),
    roles: [...member.roleIds],
    joined_at: member.joinedAt,
    deaf: false,
    mute: false,
    flags: 0,
    pending: false,
    nick: null,
    avatar: null,
    premium_since: null,
    communication_disabled_until: null,
  };
}

export function apiChannel(guild: SimGuildState, channel: SimChannel) {
  return {
    id: channel.id,
    type: channel.type,
    guild_id: guild.id,
    name: channel.name,
    position: 0,
    parent_id: null,
    nsfw: false,
    permission_overwrites: channel.overwrites.map((o) => ({
      id: o.id,
      type: o.type,
      allow: o.allow.toString(),
      deny: o.deny.toString(),
    })),
    ...(channel.type === ChannelKind.text
      ? { topic: null, last_message_id: null, rate_limit_per_user: 0 }
      : { bitrate: 64_000, user_limit: 0, rtc_region: null }),
  };
}

export function apiRole(role: SimRole) {
  return {
    id: role.id,
    name: role.name,
    color: 0,
    colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
    hoist: false,
    icon: null,
    unicode_emoji: null,
    position: role.position,
    permissions: role.permissions.toString(),
    managed: false,
    mentionable: false,
    flags: 0,
  };
}

export function apiVoiceState(
  guild: SimGuildState,
  state: SimVoiceState | { userId: string; sessionId: string },
) {
  const member = guild.members.get(state.userId);
  const live = "channelId" in state ? state : undefined;
  return {
    guild_id: guild.id,
    channel_id: live?.channelId ?? null,
    user_id: state.userId,
    ...(member === undefined ? {} : { member: apiMember(member) }),
    session_id: state.sessionId,
    deaf: false,
    mute: false,
    self_deaf: live?.selfDeaf ?? false,
    self_mute: live?.selfMute ?? false,
    self_video: false,
    suppress: false,
    request_to_speak_timestamp: null,
  };
}

/** The GUILD_CREATE payload: everything the Guilds and GuildVoiceStates intents carry. */
export function apiGuild(guild: SimGuildState) {
  return {
    id: guild.id,
    name: guild.name,
    icon: null,
    splash: null,
    discovery_splash: null,
    owner_id: guild.ownerId,
    afk_channel_id: null,
    afk_timeout: 300,
    verification_level: 0,
    default_message_notifications: 0,
    explicit_content_filter: 0,
    features: [],
    mfa_level: 0,
    application_id: null,
    system_channel_id: null,
    system_channel_flags: 0,
    rules_channel_id: null,
    vanity_url_code: null,
    description: null,
    banner: null,
    premium_tier: 0,
    preferred_locale: "en-US",
    public_updates_channel_id: null,
    nsfw_level: 0,
    premium_progress_bar_enabled: false,
    safety_alerts_channel_id: null,
    roles: [...guild.roles.values()].map(apiRole),
    emojis: [],
    stickers: [],
    joined_at: new Date().toISOString(),
    large: false,
    unavailable: false,
    member_count: guild.members.size,
    members: [...guild.members.values()].map(apiMember),
    channels: [...guild.channels.values()].map((channel) => apiChannel(guild, channel)),
    threads: [],
    presences: [],
    voice_states: [...guild.voiceStates.values()].map((state) => {
      const { guild_id: _guild, member: _member, ...rest } = apiVoiceState(guild, state);
      return rest;
    }),
    stage_instances: [],
    guild_scheduled_events: [],
    soundboard_sounds: [],
  };
}
