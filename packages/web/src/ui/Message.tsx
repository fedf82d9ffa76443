// One event of a timeline: sender, body (edited, deleted, a reply's quote, an image or file),
// reactions, the ticks of our own messages, a thread's reply count, and the actions on it.
import type { LocalMessage, MatrixEvent, MessageState } from "@ganglion/client";
import type { Room } from "../store.js";
import { useApp } from "./context.js";
import { FileMessage, ImageMessage } from "./Media.js";

const QUICK = ["👍", "❤️", "😂"];
const TICKS: Record<MessageState, string> = { sending: "🕓", sent: "✓", delivered: "✓✓", read: "✓✓", failed: "⚠" };
const TICK_TITLES: Record<MessageState, string> = { sending: "Sending", sent: "Sent", delivered: "Delivered", read: "Read", failed: "Not sent" };

export interface Actions {
  reply: (ev: MatrixEvent) => void;
  edit: (ev: MatrixEvent) => void;
  thread: (ev: MatrixEvent) => void;
}

export function Tick({ state, error }: { state: MessageState; error?: string }) {
  return <span class={`tick ${state}`} title={error ?? TICK_TITLES[state]} data-testid="tick" data-state={state}>{TICKS[state]}</span>;
}

function time(ts: number): string {
  return new Date(ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function Message({ room, ev, actions, inThread = false }: { room: Room; ev: MatrixEvent; actions: Actions; inThread?: boolean }) {
  const { client, store } = useApp();
  const mine = ev.sender === store.userId;
  const deleted = room.redacted.has(ev.event_id);
  if (ev.type === "m.room.encrypted") {
    return <li class="msg muted" data-event={ev.event_id}><div class="meta"><b class="sender">{store.displayName(room, ev.sender)}</b></div><i>🔒 Encrypted message (this client does not decrypt)</i></li>;
  }
  if (ev.type !== "m.room.message") return <StateLine room={room} ev={ev} />;
  const content = ev.content;
  const msgtype = String(content.msgtype ?? "");
  const replyTo = (content["m.relates_to"] as { "m.in_reply_to"?: { event_id?: string }; is_falling_back?: boolean } | undefined);
  const quoted = replyTo?.["m.in_reply_to"]?.event_id && !replyTo.is_falling_back ? room.byId.get(replyTo["m.in_reply_to"].event_id) : undefined;
  const reactions = room.reactions.get(ev.event_id);
  const threadCount = room.threads.get(ev.event_id)?.length ?? Number((ev.unsigned?.["m.relations"] as { "m.thread"?: { count?: number } } | undefined)?.["m.thread"]?.count ?? 0);
  const toggle = (key: string) => {
    const own = reactions?.get(key)?.get(store.userId);
    if (own) void client.redact(room.id, own); else client.react(room.id, ev.event_id, key);
  };
  return (
    <li class={`msg${mine ? " mine" : ""}${deleted ? " deleted" : ""}`} data-event={ev.event_id} data-testid="message">
      <div class="meta"><b class="sender">{store.displayName(room, ev.sender)}</b> <span class="time">{time(ev.origin_server_ts)}</span></div>
      {replyTo?.["m.in_reply_to"] && !replyTo.is_falling_back && (
        <blockquote class="quote" data-testid="quote">{quoted ? <><b>{store.displayName(room, quoted.sender)}</b> {store.body(room, quoted)}</> : "In reply to an earlier message"}</blockquote>
      )}
      <div class="body" data-testid="body">
        {deleted ? <i class="muted">Message deleted</i>
          : msgtype === "m.image" ? <ImageMessage content={content} />
          : msgtype === "m.file" ? <FileMessage content={content} />
          : <span class={msgtype === "m.emote" ? "emote" : ""}>{store.body(room, ev)}</span>}
        {!deleted && room.edits.has(ev.event_id) && <span class="muted edited" data-testid="edited"> (edited)</span>}
        {mine && <Tick state={store.tick(room, ev)} />}
      </div>
      {reactions && reactions.size > 0 && (
        <div class="reactions">
          {[...reactions].map(([key, senders]) => (
            <button class={`reaction${senders.has(store.userId) ? " own" : ""}`} key={key} onClick={() => toggle(key)} title={[...senders.keys()].map((u) => store.displayName(room, u)).join(", ")} data-testid="reaction">
              {key} {senders.size}
            </button>
          ))}
        </div>
      )}
      {!inThread && threadCount > 0 && <button class="link thread-link" onClick={() => actions.thread(ev)} data-testid="thread-count">{threadCount} {threadCount === 1 ? "reply" : "replies"} in thread</button>}
      {!deleted && (
        <div class="actions">
          {QUICK.map((k) => <button key={k} onClick={() => toggle(k)} aria-label={`React ${k}`}>{k}</button>)}
          <button onClick={() => actions.reply(ev)} data-testid="act-reply">Reply</button>
          {!inThread && <button onClick={() => actions.thread(ev)} data-testid="act-thread">Thread</button>}
          {mine && msgtype === "m.text" && <button onClick={() => actions.edit(ev)} data-testid="act-edit">Edit</button>}
          {mine && <button onClick={() => { if (confirm("Delete this message?")) void client.redact(room.id, ev.event_id); }} data-testid="act-delete">Delete</button>}
        </div>
      )}
    </li>
  );
}

/** A local echo not yet in the timeline. */
export function Pending({ room, m }: { room: Room; m: LocalMessage }) {
  const { store } = useApp();
  return (
    <li class="msg mine pending" data-testid="message" data-txn={m.txnId}>
      <div class="meta"><b class="sender">{store.displayName(room, store.userId)}</b></div>
      <div class="body" data-testid="body"><span>{String(m.content.body ?? "")}</span><Tick state={m.state} error={m.error?.error} /></div>
    </li>
  );
}

/** Membership and other state changes, one line each. */
function StateLine({ room, ev }: { room: Room; ev: MatrixEvent }) {
  const { store } = useApp();
  const who = store.displayName(room, ev.sender);
  let text: string | null = null;
  if (ev.type === "m.room.member") {
    const target = ev.content.displayname ? String(ev.content.displayname) : ev.state_key ?? "";
    const m = ev.content.membership;
    text = m === "join" ? `${target} joined` : m === "invite" ? `${who} invited ${target}` : m === "leave" ? (ev.sender === ev.state_key ? `${target} left` : `${who} removed ${target}`) : m === "ban" ? `${who} banned ${target}` : null;
  } else if (ev.type === "m.room.name") text = `${who} named the room "${String(ev.content.name ?? "")}"`;
  else if (ev.type === "m.room.topic") text = `${who} set the topic: ${String(ev.content.topic ?? "")}`;
  else if (ev.type === "m.room.create") text = `${who} created the room`;
  if (!text) return null;
  return <li class="state muted">{text}</li>;
}
