// A local SMTP server (smtp-server, from nodemailer's authors) that keeps what it receives,
// parsed with mailparser, for the email tests.
import { SMTPServer } from "smtp-server";
import { simpleParser, type ParsedMail } from "mailparser";
import type { AddressInfo } from "node:net";

export interface TestSmtp {
  port: number;
  mails: ParsedMail[];
  /** The next mail to `to` (waits for it). */
  next(to: string, timeoutMs?: number): Promise<ParsedMail>;
  close(): Promise<void>;
}

export async function startSmtp(auth: { user: string; pass: string } | null = null): Promise<TestSmtp> {
  const mails: ParsedMail[] = [];
  const waiting: { to: string; resolve: (m: ParsedMail) => void }[] = [];
  const taken = new Set<ParsedMail>();
  const server = new SMTPServer({
    secure: false, disabledCommands: ["STARTTLS"], allowInsecureAuth: true, authOptional: auth === null, logger: false,
    onAuth(a, _s, cb) {
      if (auth && a.username === auth.user && a.password === auth.pass) cb(null, { user: a.username });
      else cb(new Error("Invalid username or password"));
    },
    onData(stream, _session, cb) {
      simpleParser(stream).then((m) => {
        mails.push(m);
        const to = addresses(m);
        const w = waiting.findIndex((x) => to.includes(x.to));
        if (w >= 0) { taken.add(m); waiting.splice(w, 1)[0]!.resolve(m); }
        cb();
      }, (e) => cb(e));
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = ((server as unknown as { server: { address(): AddressInfo } }).server.address()).port;
  return {
    port, mails,
    next: (to, timeoutMs = 10_000) => {
      const have = mails.find((m) => !taken.has(m) && addresses(m).includes(to));
      if (have) { taken.add(have); return Promise.resolve(have); }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no mail to ${to}`)), timeoutMs);
        waiting.push({ to, resolve: (m) => { clearTimeout(timer); resolve(m); } });
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function addresses(m: ParsedMail): string[] {
  const to = Array.isArray(m.to) ? m.to : m.to ? [m.to] : [];
  return to.flatMap((a) => a.value.map((v) => (v.address ?? "").toLowerCase()));
}
