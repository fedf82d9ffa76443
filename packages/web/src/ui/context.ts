// What every view reads: the client (socket and HTTP), the store, the session.
import { createContext } from "preact";
import { useContext, useEffect, useState } from "preact/hooks";
import type { GanglionClient, Session } from "@ganglion/client";
import type { Store } from "../store.js";

export interface AppContext { client: GanglionClient; store: Store; session: Session }

export const Ctx = createContext<AppContext | null>(null);

export function useApp(): AppContext {
  const ctx = useContext(Ctx);
  if (!ctx) throw new Error("useApp outside the app");
  return ctx;
}

/**
 * Re-renders the caller whenever the store changes. Only the shell subscribes: its children
 * render again with it (no memoised component below), so there is one subscription, not one
 * per message.
 */
export function useStoreVersion(store: Store): void {
  const [, setSeen] = useState(0);
  useEffect(() => { const off = store.subscribe(() => setSeen((n) => n + 1)); return () => { off(); }; }, [store]);
}

/** A short, readable message for an error (a MatrixError's text, or what it says). */
export function errorText(e: unknown): string {
  if (e && typeof e === "object" && "error" in e && typeof (e as { error: unknown }).error === "string") return (e as { error: string }).error;
  return e instanceof Error ? e.message : String(e);
}
