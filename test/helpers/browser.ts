// Headless Chromium (Debian's, installed by .ci/run) driven by playwright-core, and a TCP
// proxy in front of the homeserver whose connections a test can cut and restore: one browser
// context per proxy is one user on a network that can drop.
import { existsSync } from "node:fs";
import net from "node:net";
import { chromium, type Browser } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: install Debian's chromium package (or set CHROMIUM_PATH)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // A fresh profile each launch (playwright makes one). Chromium's own background traffic (updates, sync, field trials) has nowhere to go in a
    // closed network; without these flags it retries at every start.
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
  });
}

export interface CutProxy {
  url: string;
  /** Drops every open connection and refuses new ones until `restore`. */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function cutProxy(target: string): Promise<CutProxy> {
  const { hostname, port } = new URL(target);
  const open = new Set<net.Socket>();
  let down = false;
  const server = net.createServer((client) => {
    if (down) { client.destroy(); return; }
    const upstream = net.connect(Number(port), hostname);
    open.add(client); open.add(upstream);
    const drop = () => { client.destroy(); upstream.destroy(); open.delete(client); open.delete(upstream); };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const p = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${p}`,
    cut() { down = true; for (const s of open) s.destroy(); open.clear(); },
    restore() { down = false; },
    close: () => new Promise<void>((resolve) => { for (const s of open) s.destroy(); server.close(() => resolve()); }),
  };
}
