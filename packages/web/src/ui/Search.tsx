// Message search over every room the user is in (server-side, POST /search), with the matched
// words highlighted; a result opens its room.
import { useEffect, useState } from "preact/hooks";
import type { Json, MatrixEvent } from "@ganglion/client";
import { errorText, useApp } from "./context.js";

interface Result { rank: number; result: MatrixEvent & { room_id: string } }

/** The text split around the highlighted words (case-insensitive), marked with <mark>. */
export function Highlighted({ text, words }: { text: string; words: string[] }) {
  const terms = words.filter(Boolean).map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  if (!terms.length) return <>{text}</>;
  const parts = text.split(new RegExp(`(${terms.join("|")})`, "giu"));
  return <>{parts.map((p, i) => (i % 2 === 1 ? <mark key={i}>{p}</mark> : p))}</>;
}

export function SearchPanel({ term, onOpen, onClose }: { term: string; onOpen: (roomId: string) => void; onClose: () => void }) {
  const { client, store } = useApp();
  const [results, setResults] = useState<Result[] | null>(null);
  const [highlights, setHighlights] = useState<string[]>([]);
  const [count, setCount] = useState(0);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    setResults(null); setError(null);
    client.http.search(term, { orderBy: "recent" }).then((res) => {
      if (!live) return;
      const re = ((res.search_categories as Json)?.room_events ?? {}) as { results?: Result[]; highlights?: string[]; count?: number };
      setResults(re.results ?? []);
      setHighlights([...(re.highlights ?? []), ...term.split(/\s+/)]);
      setCount(re.count ?? 0);
    }, (e) => { if (live) setError(errorText(e)); });
    return () => { live = false; };
  }, [term]);
  return (
    <aside class="side search-results" data-testid="search-results">
      <header class="row"><h3>Results for “{term}”</h3><button class="link" onClick={onClose}>Close</button></header>
      {error && <p class="error" role="alert">{error}</p>}
      {results === null && !error && <p class="muted">Searching…</p>}
      {results && <p class="muted">{count} {count === 1 ? "message" : "messages"}</p>}
      <ul>
        {(results ?? []).map(({ result: ev }) => {
          const room = store.rooms.get(ev.room_id);
          return (
            <li key={ev.event_id} class="result" onClick={() => onOpen(ev.room_id)} data-testid="search-result">
              <div class="muted">{room ? store.name(room) : ev.room_id} · {store.displayName(room, ev.sender)}</div>
              <div><Highlighted text={room?.byId.has(ev.event_id) ? store.body(room, room.byId.get(ev.event_id)!) : String(ev.content?.body ?? "")} words={highlights} /></div>
            </li>
          );
        })}
      </ul>
    </aside>
  );
}
