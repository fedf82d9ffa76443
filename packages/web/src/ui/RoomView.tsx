// The open room: header, timeline with scroll-back, who is typing, the composer; beside it the
// member list (with presence) or a thread. Reading the room moves the read receipt.
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import type { MatrixEvent } from "@ganglion/client";
import type { Room } from "../store.js";
import type { Side } from "./App.js";
import { Composer, type Draft } from "./Composer.js";
import { errorText, useApp } from "./context.js";
import { Message, Pending, type Actions } from "./Message.js";

export function RoomView({ roomId, side, setSide }: { roomId: string; side: Side; setSide: (s: Side) => void }) {
  const { client, store } = useApp();
  const room = store.room(roomId);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [inviting, setInviting] = useState("");
  const [error, setError] = useState<string | null>(null);
  const actions: Actions = {
    reply: (ev) => setDraft({ mode: "reply", ev }),
    edit: (ev) => setDraft({ mode: "edit", ev }),
    thread: (ev) => setSide({ kind: "thread", rootId: ev.event_id }),
  };
  useReadReceipt(room);

  const invite = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try { await client.http.invite(room.id, inviting.trim()); setInviting(""); } catch (err) { setError(errorText(err)); }
  };

  return (
    <div class="room-view">
      <div class="room-main">
        <header class="room-header">
          <h2 data-testid="room-name">{store.name(room)}</h2>
          <form class="invite" onSubmit={invite}>
            <input placeholder="Invite @user:server" aria-label="Invite user" value={inviting} onInput={(e) => setInviting(e.currentTarget.value)} data-testid="invite-input" />
            <button type="submit">Invite</button>
          </form>
          <button class="link" onClick={() => setSide({ kind: "members" })}>Members ({store.joinedMembers(room).length})</button>
        </header>
        {error && <p class="error" role="alert">{error}</p>}
        <Timeline room={room} actions={actions} />
        <Typing room={room} />
        <Composer room={room} draft={draft} setDraft={setDraft} />
      </div>
      {side.kind === "members" && <Members room={room} />}
      {side.kind === "thread" && <Thread room={room} rootId={side.rootId} onClose={() => setSide({ kind: "members" })} />}
    </div>
  );
}

/** While the room is open and the page visible, the newest event of others is marked read. */
function useReadReceipt(room: Room): void {
  const { client, store } = useApp();
  const sent = useRef<string | null>(null);
  useEffect(() => {
    if (document.visibilityState !== "visible") return;
    let newest: MatrixEvent | undefined;
    let at = -Infinity;
    for (const ev of room.byId.values()) {
      const p = room.pos.get(ev.event_id) ?? -Infinity;
      if (ev.sender !== store.userId && p > at) { at = p; newest = ev; }
    }
    if (!newest || newest.event_id === sent.current) return;
    const mine = room.receipts.get(store.userId)?.get("m.read");
    if (mine && (room.pos.get(mine) ?? -Infinity) >= at) { sent.current = newest.event_id; return; }
    sent.current = newest.event_id;
    client.readMarkers(room.id, newest.event_id, newest.event_id).catch(() => { sent.current = null; });
  });
}

function Timeline({ room, actions }: { room: Room; actions: Actions }) {
  const { client, store } = useApp();
  const box = useRef<HTMLUListElement>(null);
  const [loading, setLoading] = useState(false);
  const atBottom = useRef(true);
  const keep = useRef<number | null>(null);
  const pending = store.pendingIn(room);
  const count = room.events.length + pending.length;

  const older = async () => {
    if (loading || !room.prevBatch) return;
    setLoading(true);
    try {
      const page = await client.http.messages(room.id, { from: room.prevBatch, dir: "b", limit: 30 });
      keep.current = box.current ? box.current.scrollHeight - box.current.scrollTop : null;
      store.applyHistory(room.id, page.chunk, page.state, page.end);
    } catch { /* tried again on the next scroll */ } finally { setLoading(false); }
  };

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    if (keep.current !== null) { el.scrollTop = el.scrollHeight - keep.current; keep.current = null; }
    else if (atBottom.current) el.scrollTop = el.scrollHeight;
  }, [count, store.version]);

  const onScroll = () => {
    const el = box.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    if (el.scrollTop < 60) void older();
  };

  return (
    <ul class="timeline" ref={box} onScroll={onScroll} data-testid="timeline">
      <li class="history">
        {room.prevBatch ? <button class="link" onClick={older} disabled={loading} data-testid="load-older">{loading ? "Loading…" : "Load older messages"}</button> : <span class="muted">The start of the room</span>}
      </li>
      {room.events.map((ev) => <Message key={ev.event_id} room={room} ev={ev} actions={actions} />)}
      {pending.map((m) => <Pending key={m.txnId} room={room} m={m} />)}
    </ul>
  );
}

function Typing({ room }: { room: Room }) {
  const { store } = useApp();
  const names = room.typing.map((u) => store.displayName(room, u));
  return <div class="typing muted" data-testid="typing" aria-live="polite">{names.length === 0 ? "" : names.length === 1 ? `${names[0]} is typing…` : `${names.join(", ")} are typing…`}</div>;
}

function Members({ room }: { room: Room }) {
  const { store } = useApp();
  return (
    <aside class="side members" data-testid="members">
      <h3>Members</h3>
      <ul>
        {store.joinedMembers(room).map((m) => {
          const p = store.presence.get(m.userId)?.presence ?? "offline";
          return <li key={m.userId} data-user={m.userId}><span class={`dot ${p}`} title={p} data-testid="presence" data-presence={p} /> {m.displayname ?? m.userId}<span class="muted uid"> {m.userId}</span></li>;
        })}
      </ul>
    </aside>
  );
}

function Thread({ room, rootId, onClose }: { room: Room; rootId: string; onClose: () => void }) {
  const { client, store } = useApp();
  const root = room.byId.get(rootId);
  useEffect(() => {
    // Replies from before this session's first sync.
    client.http.json<{ chunk: MatrixEvent[] }>("GET", `/_matrix/client/v1/rooms/${encodeURIComponent(room.id)}/relations/${encodeURIComponent(rootId)}/m.thread?limit=100`)
      .then((r) => store.applyOlder(room.id, r.chunk), () => undefined);
  }, [rootId]);
  const [draft, setDraft] = useState<Draft | null>(null);
  const actions: Actions = { reply: (ev) => setDraft({ mode: "reply", ev }), edit: (ev) => setDraft({ mode: "edit", ev }), thread: () => undefined };
  const pending = [...store.local.values()].filter((m) => m.roomId === room.id && !(m.eventId && room.byId.has(m.eventId)) && (m.content["m.relates_to"] as { event_id?: string } | undefined)?.event_id === rootId);
  return (
    <aside class="side thread" data-testid="thread">
      <header class="row"><h3>Thread</h3><button class="link" onClick={onClose}>Close</button></header>
      <ul class="timeline">
        {root && <Message room={room} ev={root} actions={actions} inThread />}
        {(room.threads.get(rootId) ?? []).map((ev) => <Message key={ev.event_id} room={room} ev={ev} actions={actions} inThread />)}
        {pending.map((m) => <Pending key={m.txnId} room={room} m={m} />)}
      </ul>
      <Composer room={room} threadRoot={rootId} draft={draft?.mode === "edit" ? draft : null} setDraft={setDraft} />
    </aside>
  );
}
