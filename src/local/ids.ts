import { randomBytes } from "node:crypto";

/** Ids shaped like the service's (`sess_…`, `item_…`, `resp_…`, `event_…`): a prefix and 22 random characters. */
export function newId(prefix: "sess" | "item" | "resp" | "event" | "conv"): string {
  return `${prefix}_${randomBytes(16).toString("base64url").slice(0, 22)}`;
}
