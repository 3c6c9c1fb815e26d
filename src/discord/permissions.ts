import { PermissionFlagsBits } from "discord.js";

export type PermissionName = keyof typeof PermissionFlagsBits;

/** What the bot needs in a voice channel to hold a conversation there. */
export const VOICE_PERMISSIONS: readonly PermissionName[] = ["ViewChannel", "Connect", "Speak"];
/** What the bot needs in a text channel to post captions and notices. */
export const TEXT_PERMISSIONS: readonly PermissionName[] = ["ViewChannel", "SendMessages"];
/** Everything the bot asks for when invited. */
export const INVITE_PERMISSION_NAMES: readonly PermissionName[] = [
  "ViewChannel",
  "SendMessages",
  "EmbedLinks",
  "Connect",
  "Speak",
];

export function permissionBits(names: readonly PermissionName[]): bigint {
  return names.reduce((bits, name) => bits | PermissionFlagsBits[name], 0n);
}

export const INVITE_PERMISSIONS: bigint = permissionBits(INVITE_PERMISSION_NAMES);

export function hasPermission(granted: bigint | null, name: PermissionName): boolean {
  if (granted === null) return false;
  if ((granted & PermissionFlagsBits.Administrator) !== 0n) return true;
  const flag = PermissionFlagsBits[name];
  return (granted & flag) === flag;
}

export function missingPermissions(granted: bigint, needed: readonly PermissionName[]): PermissionName[] {
  return needed.filter((name) => !hasPermission(granted, name));
}

/** "ViewChannel" -> "View Channel", as Discord's settings show it. */
export function permissionLabel(name: PermissionName): string {
  return name === "ManageGuild" ? "Manage Server" : name.replace(/(?<=[a-z])(?=[A-Z])/g, " ");
}

export function inviteUrl(applicationId: string): string {
  const query = new URLSearchParams({
    client_id: applicationId,
    scope: "bot applications.commands",
    permissions: INVITE_PERMISSIONS.toString(),
  });
  return `https://discord.com/oauth2/authorize?${query}`;
}
