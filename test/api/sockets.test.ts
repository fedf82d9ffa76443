// Connections before the app: slow clients are cut off, one address cannot hold every socket,
// and the errors Node answers itself come as Matrix JSON (docs/operations.md).
import { connect, type Socket } from "node:net";
import { expect } from "chai";
import { useServer } from "../helpers/server.js";

/** Opens a raw connection (from `localAddress`), writes `data`, and collects what comes back until it closes. */
function raw(port: number, data: string, localAddress?: string): { socket: Socket; closed: Promise<{ text: string; ms: number }> } {
  const started = Date.now();
  const socket = connect({ host: "127.0.0.1", port, ...(localAddress ? { localAddress } : {}) });
  let text = "";
  socket.on("data", (d) => { text += d.toString("utf8"); });
  socket.on("error", () => undefined);
  socket.write(data);
  const closed = new Promise<{ text: string; ms: number }>((resolve) => socket.on("close", () => resolve({ text, ms: Date.now() - started })));
  return { socket, closed };
}

const bodyOf = (text: string) => JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4));

describe("connections", () => {
  const t = useServer({ http: { headers_timeout_ms: 1000, request_timeout_ms: 2000, max_connections_per_address: 5 } });
  const port = () => t.s.hs.port;

  it("a client that stops mid-headers or mid-body is answered 408 and closed", async () => {
    const headers = raw(port(), "GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\n");
    const body = raw(port(), "POST /_matrix/client/v3/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"type\":");
    const [h, b] = await Promise.all([headers.closed, body.closed]);
    for (const r of [h, b]) {
      expect(r.text, r.text).to.match(/^HTTP\/1\.1 408/);
      expect(bodyOf(r.text).errcode).to.equal("M_UNKNOWN");
    }
  });

  it("oversized headers and broken framing get Matrix JSON errors", async () => {
    const long = raw(port(), `GET /_matrix/client/v3/profile/${"a".repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    const broken = raw(port(), "THIS IS NOT HTTP\r\n\r\n");
    const [l, b] = await Promise.all([long.closed, broken.closed]);
    expect(l.text).to.match(/^HTTP\/1\.1 431/);
    expect(bodyOf(l.text).errcode).to.equal("M_TOO_LARGE");
    expect(b.text).to.match(/^HTTP\/1\.1 400/);
    expect(bodyOf(b.text).errcode).to.equal("M_UNKNOWN");
    // The server still answers.
    const ok = await t.s.client().get("/_matrix/client/versions");
    expect(ok.status).to.equal(200);
  });

  it("one address holds at most max_connections_per_address sockets; the loopback address is not capped", async () => {
    const held = Array.from({ length: 5 }, () => raw(port(), "", "127.0.0.2"));
    await new Promise((r) => setTimeout(r, 200));
    const extra = raw(port(), "GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\n\r\n", "127.0.0.2");
    const e = await extra.closed;
    expect(e.text).to.equal(""); // closed unanswered
    for (const h of held) h.socket.destroy();
    await Promise.all(held.map((h) => h.closed));
    const again = raw(port(), "GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "127.0.0.2");
    expect((await again.closed).text).to.match(/^HTTP\/1\.1 200/);
    const many = Array.from({ length: 8 }, () => raw(port(), "GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    for (const m of await Promise.all(many.map((x) => x.closed))) expect(m.text).to.match(/^HTTP\/1\.1 200/);
  });
});
