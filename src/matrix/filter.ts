// Event filters. https://spec.matrix.org/latest/client-server-api/#filtering
import type { ClientEvent } from "./events.js";

export interface EventFilter {
  limit?: number;
  types?: string[];
  not_types?: string[];
  senders?: string[];
  not_senders?: string[];
}

export interface RoomEventFilter extends EventFilter {
  rooms?: string[];
  not_rooms?: string[];
  contains_url?: boolean;
  lazy_load_members?: boolean;
  include_redundant_members?: boolean;
  unread_thread_notifications?: boolean;
}

export interface Filter {
  event_fields?: string[];
  event_format?: "client" | "federation";
  presence?: EventFilter;
  account_data?: EventFilter;
  room?: {
    rooms?: string[];
    not_rooms?: string[];
    include_leave?: boolean;
    timeline?: RoomEventFilter;
    state?: RoomEventFilter;
    ephemeral?: RoomEventFilter;
    account_data?: RoomEventFilter;
  };
}

// Sender and room lists hold user and room IDs (a filter naming something else is refused,
// not silently matching nothing).
const userIds = { type: "array", items: { type: "string", pattern: "^@" } };
const roomIds = { type: "array", items: { type: "string", pattern: "^!" } };
const eventFilterProps = {
  limit: { type: "integer" },
  types: { type: "array", items: { type: "string" } },
  not_types: { type: "array", items: { type: "string" } },
  senders: userIds,
  not_senders: userIds,
};
const roomEventFilterProps = {
  ...eventFilterProps,
  rooms: roomIds,
  not_rooms: roomIds,
  contains_url: { type: "boolean" },
  lazy_load_members: { type: "boolean" },
  include_redundant_members: { type: "boolean" },
  unread_thread_notifications: { type: "boolean" },
};
export const eventFilterSchema = { type: "object", properties: eventFilterProps };
export const roomEventFilterSchema = { type: "object", properties: roomEventFilterProps };
export const filterSchema = {
  type: "object",
  properties: {
    event_fields: { type: "array", items: { type: "string" } },
    event_format: { enum: ["client", "federation"] },
    presence: eventFilterSchema,
    account_data: eventFilterSchema,
    room: {
      type: "object",
      properties: {
        rooms: roomIds,
        not_rooms: roomIds,
        include_leave: { type: "boolean" },
        timeline: roomEventFilterSchema,
        state: roomEventFilterSchema,
        ephemeral: roomEventFilterSchema,
        account_data: roomEventFilterSchema,
      },
    },
  },
};

/** "*" matches any run of characters (spec: filter type wildcards). */
function globMatch(pattern: string, value: string): boolean {
  if (!pattern.includes("*")) return pattern === value;
  const re = new RegExp(`^${pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
  return re.test(value);
}

export function matchesEventFilter(ev: { type: string; sender: string; content?: Record<string, unknown> }, f: EventFilter | RoomEventFilter | undefined): boolean {
  if (!f) return true;
  if (f.not_types?.some((t) => globMatch(t, ev.type))) return false;
  if (f.types && !f.types.some((t) => globMatch(t, ev.type))) return false;
  if (f.not_senders?.includes(ev.sender)) return false;
  if (f.senders && !f.senders.includes(ev.sender)) return false;
  const cu = (f as RoomEventFilter).contains_url;
  if (cu !== undefined && ev.content) {
    const has = typeof ev.content.url === "string";
    if (has !== cu) return false;
  }
  return true;
}

export function roomAllowed(roomId: string, f: { rooms?: string[]; not_rooms?: string[] } | undefined): boolean {
  if (!f) return true;
  if (f.not_rooms?.includes(roomId)) return false;
  if (f.rooms && !f.rooms.includes(roomId)) return false;
  return true;
}

/** Keeps only the listed fields (dotted paths, "\." escapes a dot) of an event (spec: event_fields). */
export function pickFields(ev: Record<string, unknown>, fields: string[] | undefined): Record<string, unknown> {
  if (!fields) return ev;
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const path = f.split(/(?<!\\)\./).map((p) => p.replace(/\\\./g, "."));
    let src: unknown = ev;
    for (const p of path) src = src && typeof src === "object" ? (src as Record<string, unknown>)[p] : undefined;
    if (src === undefined) continue;
    let dst = out;
    for (let i = 0; i < path.length - 1; i++) dst = (dst[path[i]!] ??= {}) as Record<string, unknown>;
    dst[path[path.length - 1]!] = src;
  }
  return out;
}

export type { ClientEvent };
