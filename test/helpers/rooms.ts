// Room helpers for tests.
import { expect } from "chai";
import type { Client, Resp, UserClient } from "./client.js";

const enc = encodeURIComponent;
let txn = 0;

export async function createRoom(c: Client, body: Record<string, unknown> = {}): Promise<string> {
  const r = await c.post("/_matrix/client/v3/createRoom", body);
  expect(r.status, r.text).to.equal(200);
  return r.body.room_id;
}

export async function send(c: Client, roomId: string, body: string | Record<string, unknown>, type = "m.room.message"): Promise<string> {
  const content = typeof body === "string" ? { msgtype: "m.text", body } : body;
  const r = await c.put(`/_matrix/client/v3/rooms/${enc(roomId)}/send/${enc(type)}/t${Date.now()}-${txn++}`, content);
  expect(r.status, r.text).to.equal(200);
  return r.body.event_id;
}

export async function join(c: Client, roomId: string): Promise<void> {
  const r = await c.post(`/_matrix/client/v3/rooms/${enc(roomId)}/join`, {});
  expect(r.status, r.text).to.equal(200);
}

export async function invite(c: Client, roomId: string, userId: string): Promise<void> {
  const r = await c.post(`/_matrix/client/v3/rooms/${enc(roomId)}/invite`, { user_id: userId });
  expect(r.status, r.text).to.equal(200);
}

export async function setState(c: Client, roomId: string, type: string, content: Record<string, unknown>, stateKey = ""): Promise<Resp> {
  return c.put(`/_matrix/client/v3/rooms/${enc(roomId)}/state/${enc(type)}/${enc(stateKey)}`, content);
}

/** All visible messages of a room, oldest first, by paging /messages backwards. */
export async function allMessages(c: UserClient | Client, roomId: string, pageSize = 7): Promise<any[]> {
  const out: any[] = [];
  let from: string | undefined;
  for (let i = 0; i < 10000; i++) {
    const r = await c.get(`/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=${pageSize}${from ? `&from=${enc(from)}` : ""}`);
    expect(r.status, r.text).to.equal(200);
    out.push(...r.body.chunk);
    if (!r.body.end) break;
    from = r.body.end;
  }
  return out.reverse();
}

export { enc };

/** Two users, `a` owning a public room that `b` has joined. */
export async function twoInRoom(anon: Client): Promise<{ a: UserClient; b: UserClient; roomId: string }> {
  const a = await anon.register();
  const b = await anon.register();
  const roomId = await createRoom(a, { preset: "public_chat" });
  await join(b, roomId);
  return { a, b, roomId };
}
