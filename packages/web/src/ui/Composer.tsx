// The message box: send, reply, edit, in a room or a thread; typing notifications; files.
import { useRef, useState } from "preact/hooks";
import type { MatrixEvent } from "@ganglion/client";
import type { Room } from "../store.js";
import { errorText, useApp } from "./context.js";
import { sendFile } from "./Media.js";

export interface Draft { mode: "reply" | "edit"; ev: MatrixEvent }

export function Composer({ room, threadRoot, draft, setDraft }: { room: Room; threadRoot?: string; draft: Draft | null; setDraft: (d: Draft | null) => void }) {
  const { client, store } = useApp();
  const [text, setText] = useState(draft?.mode === "edit" ? store.body(room, draft.ev) : "");
  const [error, setError] = useState<string | null>(null);
  const typingSince = useRef(0);
  const file = useRef<HTMLInputElement>(null);
  const lastDraft = useRef<Draft | null>(null);
  if (draft !== lastDraft.current) {
    lastDraft.current = draft;
    if (draft?.mode === "edit") setText(store.body(room, draft.ev));
  }

  const typing = (on: boolean) => {
    const now = Date.now();
    if (on && now - typingSince.current < 4000) return;
    if (!on && typingSince.current === 0) return;
    typingSince.current = on ? now : 0;
    client.typing(room.id, on, 6000).catch(() => undefined);
  };

  const submit = (e: Event) => {
    e.preventDefault();
    const body = text.trim();
    if (!body) return;
    if (draft?.mode === "edit") client.edit(room.id, draft.ev.event_id, body);
    else if (threadRoot) {
      const replies = room.threads.get(threadRoot) ?? [];
      client.threadReply(room.id, threadRoot, body, replies[replies.length - 1]?.event_id ?? threadRoot);
    } else if (draft?.mode === "reply") client.reply(room.id, draft.ev.event_id, body);
    else client.sendText(room.id, body);
    setText("");
    setDraft(null);
    typing(false);
  };

  const upload = async () => {
    const f = file.current?.files?.[0];
    if (!f) return;
    setError(null);
    try { await sendFile(client, room.id, f); } catch (err) { setError(errorText(err)); }
    if (file.current) file.current.value = "";
  };

  return (
    <form class="composer" onSubmit={submit} data-testid={threadRoot ? "thread-composer" : "composer"}>
      {draft && (
        <div class="draft" data-testid="draft">
          {draft.mode === "edit" ? "Editing" : "Replying to"} <b>{store.displayName(room, draft.ev.sender)}</b>: {store.body(room, draft.ev).slice(0, 80)}
          <button type="button" class="link" onClick={() => { setDraft(null); setText(""); }}>Cancel</button>
        </div>
      )}
      {error && <p class="error" role="alert">{error}</p>}
      <div class="row">
        {!threadRoot && (
          <label class="attach" title="Send a file or image">📎<input ref={file} type="file" onChange={upload} data-testid="file-input" /></label>
        )}
        <input class="text" placeholder={threadRoot ? "Reply in thread…" : "Message…"} aria-label="Message" value={text}
          onInput={(e) => { setText(e.currentTarget.value); typing(e.currentTarget.value.length > 0); }}
          onBlur={() => typing(false)}
          onKeyDown={(e) => { if (e.key === "Escape") { setDraft(null); } }} data-testid="message-input" />
        <button type="submit" data-testid="send">{draft?.mode === "edit" ? "Save" : "Send"}</button>
      </div>
    </form>
  );
}
