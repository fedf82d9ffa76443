// End-to-end encryption plumbing: device keys, one-time and fallback keys, cross-signing, and
// to-device messages. https://spec.matrix.org/latest/client-server-api/#end-to-end-encryption
// The server stores signed JSON it is given and hands it out; it never sees plaintext.
import { MatrixError, forbidden } from "../http/errors.js";
import type { UserId } from "../matrix/ids.js";
import type { Db } from "../store/db.js";
import * as store from "../store/e2ee.js";
import { roomMatesOf, type MembershipCache } from "./memberships.js";
import { LocalBus, type Bus } from "./bus.js";
import type { Notifier } from "./notifier.js";
import type { RoomStateCache } from "./room-state.js";
import type { Requester } from "./tokens.js";
import { canonicalJson } from "../matrix/canonical-json.js";
import { signedPart, verifyEd25519 } from "../matrix/key-signatures.js";
import * as memberStore from "../store/memberships.js";

type Json = Record<string, unknown>;

/** To-device messages handed out per sync; the rest follow in the next ones. */
export const TO_DEVICE_LIMIT = 100;

export class KeyService {
  /**
   * One-time key counts and unused fallback types per device, in memory: they change only on
   * upload, claim and device deletion, which drop the entry here and, on the bus, in every
   * other process. So a sync wake-up reads no key table.
   */
  /** Moves on every invalidation: a count read while one happened is not kept. */
  private countsGeneration = 0;
  private readonly otkCounts = new Map<string, { counts: Record<string, number>; unusedFallback: string[] }>();

  constructor(
    private readonly db: Db,
    private readonly notifier: Notifier,
    private readonly members: MembershipCache,
    private readonly cache: RoomStateCache,
    private readonly bus: Bus = new LocalBus(),
  ) {
    bus.onMessage((m) => {
      if (m.k !== "keys") return;
      this.countsGeneration++;
      this.otkCounts.delete(`${m.user}|${m.device}`);
      this.onCountsChanged(m.user, m.device);
    });
  }

  /** A device's one-time or fallback key counts changed (here or in another process). */
  onCountsChanged: (userId: UserId, deviceId: string) => void = () => undefined;

  /** A device's key counts changed: forget them here and in the other processes. */
  private forgetCounts(userId: string, deviceId: string): void {
    this.countsGeneration++;
    this.otkCounts.delete(`${userId}|${deviceId}`);
    this.bus.publish({ k: "keys", user: userId as UserId, device: deviceId });
    this.onCountsChanged(userId as UserId, deviceId);
  }

  /** POST /keys/upload */
  async upload(who: Requester, body: { device_keys?: Json; one_time_keys?: Json; fallback_keys?: Json }): Promise<{ one_time_key_counts: Record<string, number> }> {
    const deviceId = requireDevice(who);
    let changedPos: number | null = null;
    await this.db.transaction(async (trx) => {
      if (body.device_keys) {
        const dk = body.device_keys;
        if (dk.user_id !== who.userId || dk.device_id !== deviceId) throw new MatrixError(400, "M_INVALID_PARAM", "device_keys must be this device's");
        if (await store.upsertDeviceKeys(trx, who.userId, deviceId, dk)) changedPos = -1;
      }
      const otks = Object.entries(body.one_time_keys ?? {}).map(([id, key]) => {
        const [algorithm, keyId] = splitKeyId(id);
        return { algorithm, keyId, key };
      });
      await store.insertOneTimeKeys(trx, who.userId, deviceId, otks);
      for (const [id, key] of Object.entries(body.fallback_keys ?? {})) {
        const [algorithm, keyId] = splitKeyId(id);
        await store.upsertFallbackKey(trx, who.userId, deviceId, algorithm, keyId, key);
      }
      // Last in the transaction: it takes a stream position (schema/0002).
      if (changedPos === -1) changedPos = await store.noteDeviceListChange(trx, who.userId);
    });
    this.forgetCounts(who.userId, deviceId);
    if (changedPos !== null) await this.announce(who.userId, changedPos);
    return { one_time_key_counts: (await this.counts(who.userId, deviceId)).counts };
  }

  /** POST /keys/query */
  async query(who: Requester, wanted: Record<string, string[]>): Promise<Json> {
    const userIds = Object.keys(wanted).slice(0, 1000);
    const [keys, cross] = await Promise.all([store.selectDeviceKeys(this.db, userIds), store.selectCrossSigning(this.db, userIds)]);
    const deviceKeys: Record<string, Json> = {};
    for (const u of userIds) deviceKeys[u] = {};
    for (const k of keys) {
      const only = wanted[k.userId];
      if (only && only.length && !only.includes(k.deviceId)) continue;
      deviceKeys[k.userId]![k.deviceId] = { ...k.keys, unsigned: { ...((k.keys.unsigned as Json) ?? {}), ...(k.displayName ? { device_display_name: k.displayName } : {}) } };
    }
    const out: Json = { device_keys: deviceKeys, failures: {}, master_keys: {}, self_signing_keys: {}, user_signing_keys: {} };
    for (const c of cross) {
      // A user's user-signing key is theirs alone.
      if (c.kind === "user_signing" && c.userId !== who.userId) continue;
      (out[`${c.kind}_keys`] as Json)[c.userId] = c.key;
    }
    return out;
  }

  /** POST /keys/claim */
  async claim(wanted: Record<string, Record<string, string>>): Promise<Json> {
    const out: Record<string, Record<string, Json>> = {};
    for (const [userId, devices] of Object.entries(wanted).slice(0, 1000)) {
      for (const [deviceId, algorithm] of Object.entries(devices)) {
        const k = await store.claimKey(this.db, userId, deviceId, algorithm);
        this.forgetCounts(userId, deviceId);
        if (!k) continue;
        ((out[userId] ??= {})[deviceId] ??= {})[`${algorithm}:${k.keyId}`] = k.key;
      }
    }
    return { one_time_keys: out, failures: {} };
  }

  /** POST /keys/device_signing/upload */
  async uploadCrossSigning(who: Requester, body: Json): Promise<void> {
    let pos = 0;
    await this.db.transaction(async (trx) => {
      for (const kind of ["master", "self_signing", "user_signing"]) {
        const key = body[`${kind}_key`] as Json | undefined;
        if (!key) continue;
        if (key.user_id !== who.userId) throw new MatrixError(400, "M_INVALID_PARAM", `${kind}_key must be for ${who.userId}`);
        await store.upsertCrossSigning(trx, who.userId, kind, key);
      }
      pos = await store.noteDeviceListChange(trx, who.userId);
    });
    await this.announce(who.userId, pos);
  }

  /**
   * POST /keys/signatures/upload: signatures merged into the signed objects they sign. Only
   * what cross-signing defines is taken, each signature checked against the signing key it
   * names: one's own devices signed by one's self-signing key, one's own master key by one's
   * devices, another user's master key by one's user-signing key. The object sent must be the
   * one stored. Anything else is listed in `failures` and nothing of it is kept.
   */
  async uploadSignatures(who: Requester, body: Record<string, Record<string, Json>>): Promise<Json> {
    const failures: Record<string, Record<string, Json>> = {};
    const fail = (userId: string, keyId: string, error: string) => { (failures[userId] ??= {})[keyId] = { errcode: "M_INVALID_SIGNATURE", error }; };
    const touched = new Set<UserId>();
    const [myDevices, myCross] = await Promise.all([store.selectDeviceKeys(this.db, [who.userId]), store.selectCrossSigning(this.db, [who.userId])]);
    const mine = (kind: string) => crossKey(myCross.find((c) => c.kind === kind)?.key);
    for (const [userId, objects] of Object.entries(body).slice(0, 100)) {
      const own = userId === who.userId;
      const [devices, cross] = own ? [myDevices, myCross] : await Promise.all([store.selectDeviceKeys(this.db, [userId]), store.selectCrossSigning(this.db, [userId])]);
      for (const [keyId, signed] of Object.entries(objects).slice(0, 100)) {
        const dev = devices.find((d) => d.deviceId === keyId);
        const cs = dev ? undefined : cross.find((c) => crossKey(c.key)?.keyId === `ed25519:${keyId}`);
        const target = dev?.keys ?? cs?.key;
        if (!target) { fail(userId, keyId, "Unknown key"); continue; }
        if (canonicalJson(signedPart(signed)) !== canonicalJson(signedPart(target))) { fail(userId, keyId, "The signed object is not the key stored"); continue; }
        // Which of the uploader's keys may sign this object.
        let signers: { keyId: string; publicKey: string }[] = [];
        if (own && dev) signers = [mine("self_signing")].filter((k): k is NonNullable<typeof k> => !!k);
        else if (own && cs?.kind === "master") signers = myDevices.map((d) => deviceKey(d.deviceId, d.keys)).filter((k): k is NonNullable<typeof k> => !!k);
        else if (!own && cs?.kind === "master") signers = [mine("user_signing")].filter((k): k is NonNullable<typeof k> => !!k);
        const sigs = (signed.signatures as Record<string, unknown> | undefined)?.[who.userId];
        if (!sigs || typeof sigs !== "object" || Object.keys(sigs).length === 0) { fail(userId, keyId, "No signature from you"); continue; }
        const checked: Record<string, string> = {};
        let bad = false;
        for (const [sigKeyId, sig] of Object.entries(sigs as Record<string, unknown>)) {
          const signer = signers.find((k) => k.keyId === sigKeyId);
          if (!signer || typeof sig !== "string" || !verifyEd25519(target, signer.publicKey, sig)) { bad = true; break; }
          checked[sigKeyId] = sig;
        }
        if (bad) { fail(userId, keyId, "A signature does not verify with a key of yours that may sign this"); continue; }
        const all = { ...((target.signatures as Record<string, Json>) ?? {}) };
        all[who.userId] = { ...(all[who.userId] ?? {}), ...checked };
        const merged = { ...target, signatures: all };
        if (dev) await store.upsertDeviceKeys(this.db, userId as UserId, keyId, merged);
        else await store.upsertCrossSigning(this.db, userId as UserId, cs!.kind, merged);
        touched.add(userId as UserId);
      }
    }
    for (const u of touched) {
      const pos = await this.db.transaction((trx) => store.noteDeviceListChange(trx, u));
      await this.announce(u, pos);
    }
    return { failures };
  }

  /** A user's devices were removed: their keys go, and room-mates hear of it. */
  /** A new device (a login) or a renamed one: the user's device list changed for everyone who shares a room. */
  async deviceAdded(userId: UserId): Promise<void> {
    const pos = await this.db.transaction((trx) => store.noteDeviceListChange(trx, userId));
    await this.announce(userId, pos);
  }

  async devicesDeleted(userId: UserId, deviceIds: string[]): Promise<void> {
    let pos = 0;
    await this.db.transaction(async (trx) => {
      await store.deleteDeviceKeys(trx, userId, deviceIds);
      pos = await store.noteDeviceListChange(trx, userId);
    });
    for (const d of deviceIds) this.forgetCounts(userId, d);
    await this.announce(userId, pos);
  }

  /** PUT /sendToDevice/{eventType}/{txnId} */
  async sendToDevice(who: Requester, type: string, txnId: string, messages: Record<string, Record<string, Json>>): Promise<void> {
    const list: { userId: string; deviceId: string; content: unknown }[] = [];
    for (const [userId, devices] of Object.entries(messages)) {
      let all: string[] | null = null;
      for (const [deviceId, content] of Object.entries(devices)) {
        if (deviceId === "*") {
          all ??= (await store.selectDeviceKeys(this.db, [userId])).map((d) => d.deviceId);
          const known = await this.deviceIds(userId);
          for (const d of new Set([...all, ...known])) list.push({ userId, deviceId: d, content });
        } else list.push({ userId, deviceId, content });
      }
    }
    if (list.length > 10_000) throw new MatrixError(413, "M_TOO_LARGE", "Too many to-device messages in one request");
    const pos = await store.insertToDevice(this.db, who.userId, who.deviceId ?? "", txnId, type, list);
    if (!pos) return; // a retry, or nobody to send to
    const users = [...new Set(list.map((m) => m.userId as UserId))];
    this.notifier.toDevice(users, pos);
    await this.notifier.reach(pos);
  }

  /**
   * to_device for /sync: the device's messages after what its token acknowledges (each is
   * delivered until a later token acknowledges it; acknowledged ones are deleted then).
   * Asks the database only when the notifier says there may be some.
   */
  async toDeviceForSync(who: Requester, acknowledged: number | null, upTo: number): Promise<{ events: Json[]; lastPos: number | null; more: boolean }> {
    if (!who.deviceId || !this.notifier.toDeviceChanged(who.userId, acknowledged ?? -1)) return { events: [], lastPos: null, more: false };
    if (acknowledged !== null) await store.deleteToDevice(this.db, who.userId, who.deviceId, acknowledged);
    const rows = await store.selectToDevice(this.db, who.userId, who.deviceId, acknowledged ?? -1, upTo, TO_DEVICE_LIMIT + 1);
    const more = rows.length > TO_DEVICE_LIMIT;
    const page = rows.slice(0, TO_DEVICE_LIMIT);
    return { events: page.map((r) => ({ sender: r.sender, type: r.type, content: r.content })), lastPos: page.length ? page[page.length - 1]!.pos : null, more };
  }

  /** device_lists.changed for /sync: room-mates (and the user) whose keys changed in (after, upTo]. */
  async changedUsers(userId: UserId, after: number, upTo: number): Promise<string[]> {
    const mates = await roomMatesOf(this.members, this.cache, userId);
    mates.add(userId);
    return store.selectDeviceListChanges(this.db, [...mates], after, upTo);
  }

  /**
   * GET /keys/changes: users whose keys changed in (from, to] and share a room with the user,
   * plus those who came to share one in the range (their keys are news); `left`: users who
   * shared a room at some point of the range and share none now.
   */
  async changes(userId: UserId, from: number, to: number): Promise<{ changed: string[]; left: string[] }> {
    const changed = new Set(await this.changedUsers(userId, from, to));
    const mine = await this.members.get(userId);
    const own = await memberStore.selectMembershipChanges(this.db, userId, from, to);
    const rooms = [...new Set([...mine.filter((m) => m.membership === "join").map((m) => m.roomId), ...own.map((c) => c.roomId)])];
    const moves = await memberStore.selectMemberChangesInRooms(this.db, rooms, from, to);
    const mates = await roomMatesOf(this.members, this.cache, userId);
    const left = new Set<string>();
    for (const m of moves) {
      if (m.userId === userId) {
        // The user left a room: its members are candidates too.
        if (m.membership === "leave" || m.membership === "ban") for (const u of (await this.cache.get(m.roomId))?.joined ?? []) if (u !== userId) left.add(u);
        continue;
      }
      if (m.membership === "join" && mates.has(m.userId as UserId)) changed.add(m.userId);
      else if (m.membership === "leave" || m.membership === "ban") left.add(m.userId);
    }
    const gone = [...left].filter((u) => !mates.has(u as UserId));
    return { changed: [...changed].filter((u) => !gone.includes(u)), left: gone };
  }

  /** The device's key counts if they are in memory. */
  peekCounts(userId: string, deviceId: string): { counts: Record<string, number>; unusedFallback: string[] } | undefined {
    return this.otkCounts.get(`${userId}|${deviceId}`);
  }

  hasCounts(userId: string, deviceId: string): boolean {
    return this.otkCounts.has(`${userId}|${deviceId}`);
  }

  /** One-time key counts and unused fallback key types of a device (kept in memory, see otkCounts). */
  async counts(userId: UserId, deviceId: string): Promise<{ counts: Record<string, number>; unusedFallback: string[] }> {
    const k = `${userId}|${deviceId}`;
    const hit = this.otkCounts.get(k);
    if (hit) return hit;
    const gen = this.countsGeneration;
    const c = await store.countOneTimeKeys(this.db, userId, deviceId);
    if (gen !== this.countsGeneration) return c;
    if (this.otkCounts.size > 100_000) this.otkCounts.clear();
    this.otkCounts.set(k, c);
    return c;
  }

  private async deviceIds(userId: string): Promise<string[]> {
    const r = await this.db.raw(`SELECT device_id FROM devices WHERE user_id = ?`, [userId]);
    return r.rows.map((x: { device_id: string }) => x.device_id);
  }

  /** The user's keys changed: wake them and everyone who shares a room with them. */
  private async announce(userId: UserId, pos: number): Promise<void> {
    const mates = await roomMatesOf(this.members, this.cache, userId);
    mates.add(userId);
    this.notifier.deviceLists(mates, pos);
    await this.notifier.reach(pos);
  }
}

/** A cross-signing key's one ed25519 key. */
function crossKey(key: Json | undefined): { keyId: string; publicKey: string } | null {
  const keys = key?.keys;
  if (!keys || typeof keys !== "object") return null;
  const [entry] = Object.entries(keys as Record<string, unknown>).filter(([k, v]) => k.startsWith("ed25519:") && typeof v === "string");
  return entry ? { keyId: entry[0], publicKey: entry[1] as string } : null;
}

/** A device's ed25519 key. */
function deviceKey(deviceId: string, keys: Json): { keyId: string; publicKey: string } | null {
  const k = (keys.keys as Record<string, unknown> | undefined)?.[`ed25519:${deviceId}`];
  return typeof k === "string" ? { keyId: `ed25519:${deviceId}`, publicKey: k } : null;
}

function requireDevice(who: Requester): string {
  if (!who.deviceId) throw forbidden("This access token has no device");
  return who.deviceId;
}

function splitKeyId(id: string): [string, string] {
  const i = id.indexOf(":");
  if (i <= 0 || i === id.length - 1) throw new MatrixError(400, "M_INVALID_PARAM", `Key ID ${id} is not <algorithm>:<id>`);
  return [id.slice(0, i), id.slice(i + 1)];
}
