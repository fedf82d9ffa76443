// The shapes the client works with: the spec's events and the extension's frames.

export type Json = Record<string, unknown>;

/** A client-format event (spec: ClientEvent without room_id, as in /sync). */
export interface MatrixEvent {
  event_id: string;
  type: string;
  sender: string;
  origin_server_ts: number;
  content: Json;
  state_key?: string;
  redacts?: string;
  unsigned?: { age?: number; transaction_id?: string; redacted_because?: MatrixEvent; "m.relations"?: Json; [k: string]: unknown };
}

/** A /sync response as the socket pushes it (the fields this client reads). */
export interface SyncResponse {
  next_batch: string;
  rooms?: {
    join?: Record<string, JoinedRoom>;
    invite?: Record<string, { invite_state?: { events: Json[] } }>;
    leave?: Record<string, { timeline?: { events: MatrixEvent[] } }>;
    knock?: Record<string, unknown>;
  };
  account_data?: { events: Json[] };
  presence?: { events: Json[] };
  to_device?: { events: Json[] };
  [k: string]: unknown;
}

export interface JoinedRoom {
  timeline?: { events: MatrixEvent[]; limited?: boolean; prev_batch?: string };
  state?: { events: MatrixEvent[] };
  ephemeral?: { events: Json[] };
  account_data?: { events: Json[] };
  unread_notifications?: { notification_count?: number; highlight_count?: number };
  summary?: Json;
}

/** A message sent from this client, from the local echo on. */
export type MessageState = "sending" | "sent" | "delivered" | "read" | "failed";

export interface LocalMessage {
  txnId: string;
  roomId: string;
  type: string;
  content: Json;
  state: MessageState;
  eventId?: string;
  error?: { errcode: string; error: string };
}

/** The socket as the client uses it: the browser's WebSocket, or the `ws` package's in Node. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export type SocketConstructor = new (url: string) => SocketLike;

export type ConnectionState = "connecting" | "online" | "offline" | "stopped";
