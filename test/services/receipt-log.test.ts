// The in-memory log of recent receipt changes (services/receipt-log.ts): what it answers and
// when it sends a sync to the table instead.
import { expect } from "chai";
import type { RoomId, UserId } from "../../src/matrix/ids.js";
import { ReceiptLog } from "../../src/services/receipt-log.js";

const row = (room: string, user: string, pos: number, type = "m.read") => ({
  roomId: room as RoomId, userId: user as UserId, type, threadId: "", eventId: `$e${pos}`, ts: pos, pos,
});

describe("receipt log", () => {
  it("answers above the start, the latest change per user and type, and leaves older tokens to the table", () => {
    const log = new ReceiptLog(100);
    expect(log.since("!a" as RoomId, 99, 200), "a token from before the start").to.equal(null);
    expect(log.since("!a" as RoomId, 100, 200)).to.deep.equal([]);
    log.add(row("!a", "@u", 101));
    log.add(row("!a", "@u", 103));
    log.add(row("!a", "@v", 102, "m.read.private"));
    log.add(row("!a", "@u", 103)); // read back by the replicator: once
    expect(log.since("!a" as RoomId, 100, 200)!.map((r) => r.pos).sort()).to.deep.equal([102, 103]);
    expect(log.since("!a" as RoomId, 100, 102)!.map((r) => r.pos).sort(), "up to the position asked").to.deep.equal([101, 102]);
    expect(log.since("!a" as RoomId, 103, 200)).to.deep.equal([]);
    expect(log.since("!b" as RoomId, 100, 200), "a room with no change").to.deep.equal([]);
  });

  it("trimmed, dropped or reset, it stops answering below what it lost", () => {
    const log = new ReceiptLog(0);
    for (let p = 1; p <= 600; p++) log.add(row("!a", `@u${p}`, p));
    expect(log.since("!a" as RoomId, 0, 1000), "the oldest changes were trimmed").to.equal(null);
    const kept = log.since("!a" as RoomId, 400, 1000)!;
    expect(kept.length).to.equal(200);
    log.forgetRoom("!a" as RoomId, 700);
    expect(log.since("!a" as RoomId, 650, 1000)).to.equal(null);
    expect(log.since("!a" as RoomId, 700, 1000)).to.deep.equal([]);
    log.reset(800);
    expect(log.since("!c" as RoomId, 799, 1000)).to.equal(null);
    expect(log.since("!c" as RoomId, 800, 1000)).to.deep.equal([]);
  });
});
