// Profiles. https://spec.matrix.org/latest/client-server-api/#profiles
// Propagation of changes into rooms (m.room.member updates) is added with rooms.
import { MatrixError, forbidden, notFound } from "../http/errors.js";
import type { UserId } from "../matrix/ids.js";
import type { Db } from "../store/db.js";
import * as profiles from "../store/profiles.js";
import * as users from "../store/users.js";

// Spec (profile fields): a key is at most 255 bytes; the whole profile at most 64 KiB as JSON.
export const MAX_PROFILE_KEY_BYTES = 255;
export const MAX_PROFILE_BYTES = 65536;
// Synapse's limits for the two classic fields, which clients render in tight places.
const MAX_DISPLAYNAME = 256;
const MAX_AVATAR_URL = 1000;

export type ProfileChangeListener = (userId: UserId, key: string, value: unknown) => Promise<void>;

export class ProfileService {
  private readonly listeners: ProfileChangeListener[] = [];

  /** Asks an application service about a user nobody has registered yet (appservices.ts). */
  queryUnknownUser: (userId: UserId) => Promise<boolean> = async () => false;

  constructor(private readonly db: Db) {}

  onChange(l: ProfileChangeListener): void {
    this.listeners.push(l);
  }

  async get(userId: UserId): Promise<Record<string, unknown>> {
    let u = await users.selectUser(this.db, userId);
    if (!u && (await this.queryUnknownUser(userId))) u = await users.selectUser(this.db, userId);
    if (!u) throw notFound("Profile not found");
    return profiles.selectProfile(this.db, userId);
  }

  async getField(userId: UserId, key: string): Promise<unknown> {
    const p = await this.get(userId);
    if (!(key in p)) throw notFound("Profile field not set");
    return p[key];
  }

  async setField(requesterId: UserId, userId: UserId, key: string, value: unknown): Promise<void> {
    if (requesterId !== userId) throw forbidden("You cannot change another user's profile");
    validateField(key, value);
    const current = await profiles.selectProfile(this.db, userId);
    const next = { ...current, [key]: value };
    if (Buffer.byteLength(JSON.stringify(next)) > MAX_PROFILE_BYTES) {
      throw new MatrixError(400, "M_PROFILE_TOO_LARGE", "The profile would exceed 64 KiB");
    }
    // Setting displayname/avatar_url to null clears it, as Synapse does.
    if (value === null) await profiles.deleteProfileField(this.db, userId, key);
    else await profiles.upsertProfileField(this.db, userId, key, value);
    for (const l of this.listeners) await l(userId, key, value);
  }

  async deleteField(requesterId: UserId, userId: UserId, key: string): Promise<void> {
    if (requesterId !== userId) throw forbidden("You cannot change another user's profile");
    checkKey(key);
    await profiles.deleteProfileField(this.db, userId, key);
    for (const l of this.listeners) await l(userId, key, null);
  }
}

function checkKey(key: string): void {
  if (Buffer.byteLength(key) > MAX_PROFILE_KEY_BYTES) throw new MatrixError(400, "M_KEY_TOO_LARGE", "Profile key exceeds 255 bytes");
  if (key.length === 0) throw new MatrixError(400, "M_INVALID_PARAM", "Profile key cannot be empty");
}

function validateField(key: string, value: unknown): void {
  checkKey(key);
  if (key === "displayname" || key === "avatar_url") {
    if (value !== null && typeof value !== "string") throw new MatrixError(400, "M_BAD_JSON", `${key} must be a string`);
    const max = key === "displayname" ? MAX_DISPLAYNAME : MAX_AVATAR_URL;
    if (typeof value === "string" && value.length > max) throw new MatrixError(400, "M_BAD_JSON", `${key} may not be longer than ${max} characters`);
  } else if (key === "m.tz") {
    if (typeof value !== "string") throw new MatrixError(400, "M_BAD_JSON", "m.tz must be a string");
  }
}
