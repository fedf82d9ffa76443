// Event relationships. https://spec.matrix.org/latest/client-server-api/#forming-relationships-between-events
import type { ClientEvent } from "./events.js";

export interface Relation { relType: string; relatesTo: string; key: string | null }

/** The event's relation (content."m.relates_to" with rel_type and event_id), if it has one. */
export function relationOf(content: Record<string, unknown>): Relation | null {
  const r = content["m.relates_to"];
  if (!r || typeof r !== "object" || Array.isArray(r)) return null;
  const { rel_type: relType, event_id: relatesTo, key } = r as Record<string, unknown>;
  if (typeof relType !== "string" || typeof relatesTo !== "string" || relType.length > 255 || relatesTo.length > 255) return null;
  return { relType, relatesTo, key: relType === "m.annotation" && typeof key === "string" ? key : null };
}

/** The thread an event belongs to: its root's ID for thread replies, else "main". */
export function threadOf(ev: Pick<ClientEvent, "content">): string {
  const r = relationOf(ev.content);
  return r?.relType === "m.thread" ? r.relatesTo : "main";
}
