import type { ListenPolicy } from "../persona.ts";
import type { MemberInfo } from "./context.ts";

/** Whether a member's speech reaches Voice Live under a listen policy. Bots are never heard. */
export function mayBeHeard(
  listen: ListenPolicy,
  initiatorId: string,
  userId: string,
  member: MemberInfo | undefined,
): boolean {
  if (member === undefined || member.bot) return false;
  if (listen.mode === "everyone") return true;
  if (listen.mode === "initiator") return userId === initiatorId;
  return member.roleIds.includes(listen.roleId);
}
