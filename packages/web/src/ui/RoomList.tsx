// The left column: who is signed in, message search, creating a room, and the room list with
// unread counts and each room's last message; invitations to accept or decline.
import { useState } from "preact/hooks";
import { errorText, useApp } from "./context.js";

export function RoomList({ current, onOpen, onSearch, onLogout }: { current: string | null; onOpen: (id: string) => void; onSearch: (term: string) => void; onLogout: () => void }) {
  const { client, store, session } = useApp();
  const [term, setTerm] = useState("");
  const [creating, setCreating] = useState(false);
  const [name, setName] = useState("");
  const [invite, setInvite] = useState("");
  const [error, setError] = useState<string | null>(null);

  const create = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const ids = invite.split(/[\s,]+/).filter(Boolean);
      const { room_id } = await client.http.createRoom({ name: name.trim() || undefined, invite: ids });
      setCreating(false); setName(""); setInvite("");
      onOpen(room_id);
    } catch (err) { setError(errorText(err)); }
  };
  const join = async (id: string) => {
    try { await client.http.join(id); onOpen(id); } catch (err) { setError(errorText(err)); }
  };
  const decline = async (id: string) => {
    try { await client.http.leave(id); } catch (err) { setError(errorText(err)); }
  };

  return (
    <nav class="rooms">
      <header class="me">
        <span class="user" title={session.userId} data-testid="me">{session.userId}</span>
        <button class="link" onClick={onLogout}>Sign out</button>
      </header>
      <form class="search" onSubmit={(e) => { e.preventDefault(); if (term.trim()) onSearch(term.trim()); }}>
        <input type="search" placeholder="Search messages" aria-label="Search messages" value={term} onInput={(e) => setTerm(e.currentTarget.value)} data-testid="search-input" />
      </form>
      {creating ? (
        <form class="create" onSubmit={create} data-testid="create-form">
          <input placeholder="Room name" aria-label="Room name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
          <input placeholder="Invite: @user:server, …" aria-label="Invite" value={invite} onInput={(e) => setInvite(e.currentTarget.value)} />
          <div class="row"><button type="submit">Create</button><button type="button" class="link" onClick={() => setCreating(false)}>Cancel</button></div>
        </form>
      ) : <button class="new-room" onClick={() => setCreating(true)} data-testid="new-room">+ New room</button>}
      {error && <p class="error" role="alert">{error}</p>}
      <ul data-testid="room-list">
        {store.roomList().map((r) => {
          const last = store.lastMessage(r);
          if (r.membership === "invite") {
            return (
              <li class="room invite" key={r.id} data-room={r.id}>
                <div class="name">{store.name(r)}</div>
                <div class="preview">Invited by {r.inviter ? store.displayName(r, r.inviter) : "someone"}</div>
                <div class="row"><button onClick={() => join(r.id)} data-testid="accept">Join</button><button class="link" onClick={() => decline(r.id)}>Decline</button></div>
              </li>
            );
          }
          return (
            <li class={`room${r.id === current ? " current" : ""}`} key={r.id} data-room={r.id} onClick={() => onOpen(r.id)}>
              <div class="name">{store.name(r)}{r.unread > 0 && r.id !== current && <span class={`badge${r.highlights ? " hl" : ""}`} data-testid="unread">{r.unread}</span>}</div>
              {last && <div class="preview"><b>{store.displayName(r, last.sender)}:</b> {store.body(r, last)}</div>}
            </li>
          );
        })}
      </ul>
    </nav>
  );
}
