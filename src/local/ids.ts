import { randomBytes } from "node:crypto";

/** Ids shaped like the service's (`sess_…`, `item_…`, `resp_…`, `event_…`, `call_…`): a prefix and 22 random characters. */
export function newId(prefix: "sess" | "item" | "resp" | "event" | "conv" | "call"): string {
  return `${prefix}_${randomBytes(16).toString("base64url").slice(0, 22)}`;
}
