// The shell: the session (kept in localStorage), the client and store for it, and the three
// columns (rooms, the open room, a side panel for members, a thread or search results).
import { useEffect, useMemo, useState } from "preact/hooks";
import { GanglionClient, type ConnectionState, type LocalMessage, type Session } from "@ganglion/client";
import { Store } from "../store.js";
import { Ctx, errorText, useStoreVersion } from "./context.js";
import { Login } from "./Login.js";
import { RoomList } from "./RoomList.js";
import { RoomView } from "./RoomView.js";
import { SearchPanel } from "./Search.js";

const SESSION_KEY = "ganglion.session";

function loadSession(): Session | null {
  try {
    const s = JSON.parse(localStorage.getItem(SESSION_KEY) ?? "null") as Session | null;
    return s && s.accessToken && s.baseUrl === location.origin ? s : null;
  } catch { return null; }
}

export function App() {
  const [session, setSession] = useState<Session | null>(loadSession);
  if (!session) return <Login onSession={(s) => { localStorage.setItem(SESSION_KEY, JSON.stringify(s)); setSession(s); }} />;
  return <Chat key={session.accessToken} session={session} onLogout={() => { localStorage.removeItem(SESSION_KEY); setSession(null); }} />;
}

export type Side = { kind: "members" } | { kind: "thread"; rootId: string } | { kind: "search"; term: string };

function Chat({ session, onLogout }: { session: Session; onLogout: () => void }) {
  const outboxKey = `ganglion.outbox.${session.userId}`;
  const { client, store } = useMemo(() => {
    let outbox: LocalMessage[] = [];
    try { outbox = JSON.parse(localStorage.getItem(outboxKey) ?? "[]"); } catch { /* a damaged copy: start empty */ }
    const client = new GanglionClient({
      baseUrl: session.baseUrl, accessToken: session.accessToken, userId: session.userId, outbox,
      filter: { room: { timeline: { limit: 30 } } },
      onPersist: ({ outbox }) => localStorage.setItem(outboxKey, JSON.stringify(outbox)),
    });
    const store = new Store(session.userId);
    store.attach(client);
    return { client, store };
  }, [session.accessToken]);
  useStoreVersion(store);
  const [connection, setConnection] = useState<ConnectionState>("connecting");
  const [fatal, setFatal] = useState<string | null>(null);
  const [roomId, setRoomId] = useState<string | null>(null);
  const [side, setSide] = useState<Side>({ kind: "members" });

  useEffect(() => {
    const offConn = client.on("connection", setConnection);
    const offErr = client.on("error", (e) => {
      if ((e as { errcode?: string }).errcode === "M_UNKNOWN_TOKEN") { localStorage.removeItem(outboxKey); onLogout(); }
    });
    client.start().then(() => {
      const first = store.roomList().find((r) => r.membership === "join");
      setRoomId((cur) => cur ?? first?.id ?? null);
    }, (e) => setFatal(errorText(e)));
    // Back in view: receipts for what arrived meanwhile; back online: reconnect without waiting for the backoff.
    const visible = () => { if (document.visibilityState === "visible") { store.changed(); client.reconnect(); } };
    const online = () => client.reconnect();
    document.addEventListener("visibilitychange", visible);
    window.addEventListener("online", online);
    return () => { offConn(); offErr(); client.stop(); document.removeEventListener("visibilitychange", visible); window.removeEventListener("online", online); };
  }, [client]);

  const logout = async () => {
    try { await client.http.logout(); } catch { /* the token may already be gone */ }
    client.stop();
    localStorage.removeItem(outboxKey);
    onLogout();
  };

  return (
    <Ctx.Provider value={{ client, store, session }}>
      <div class="app">
        <RoomList current={roomId} onOpen={(id) => { setRoomId(id); if (side.kind === "thread") setSide({ kind: "members" }); }}
          onSearch={(term) => setSide({ kind: "search", term })} onLogout={logout} />
        <section class="main">
          {connection !== "online" && (
            <div class={`banner ${connection}`} data-testid="connection" role="status">
              {fatal ?? (connection === "connecting" ? "Connecting…" : connection === "offline" ? "Offline: reconnecting… (messages are kept and sent when back)" : "Stopped")}
            </div>
          )}
          {roomId ? <RoomView key={roomId} roomId={roomId} side={side} setSide={setSide} /> : <div class="empty muted">No room open. Create one on the left.</div>}
        </section>
        {side.kind === "search" && <SearchPanel term={side.term} onOpen={(id) => setRoomId(id)} onClose={() => setSide({ kind: "members" })} />}
      </div>
    </Ctx.Provider>
  );
}
