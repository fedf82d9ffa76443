// A real redis-server for the scale-out tests (Debian's package; .ci/run installs it).
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { Socket } from "node:net";

export interface TestRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** Starts it again on the same port (after stop). */
  restart(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = new Socket();
    c.once("connect", () => { c.destroy(); resolve(true); });
    c.once("error", () => resolve(false));
    c.connect(port, "127.0.0.1");
  });
}

export async function startTestRedis(): Promise<TestRedis> {
  const port = await freePort();
  let child: ChildProcess | null = null;
  const start = async () => {
    child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
    const failed = new Promise<never>((_, reject) => child!.once("error", (e) => reject(new Error(`redis-server could not start (is it installed?): ${e.message}`))));
    const end = Date.now() + 10_000;
    for (;;) {
      if (await Promise.race([canConnect(port), failed])) return;
      if (Date.now() > end) throw new Error("redis-server did not start");
      await new Promise((r) => setTimeout(r, 30));
    }
  };
  const stop = async () => {
    const c = child as ChildProcess | null;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once("exit", r));
    c.kill("SIGKILL");
    await exited;
    child = null;
  };
  await start();
  return { url: `redis://127.0.0.1:${port}`, port, stop, restart: start };
}
