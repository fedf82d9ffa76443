// Connections woken and not yet looked at (WsConnection.wakeUp). They are answered in slices
// of at most SLICE_MS, each in its own turn of the event loop: a fan-out to thousands of sockets neither holds the
// send's own response nor every other request until the last socket has its frame.
const woken = new Set<{ wakeUp(): void }>();
const SLICE_MS = 10;
let draining = false;

export function wake(c: { wakeUp(): void }): void {
  woken.add(c);
  if (!draining) {
    draining = true;
    setImmediate(drain);
  }
}

function drain(): void {
  const t0 = performance.now();
  for (const c of woken) {
    woken.delete(c);
    c.wakeUp();
    if (performance.now() - t0 > SLICE_MS) break;
  }
  if (woken.size) setImmediate(drain);
  else draining = false;
}
