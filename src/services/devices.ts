// Device management. https://spec.matrix.org/latest/client-server-api/#device-management
import { notFound } from "../http/errors.js";
import type { DeviceId, UserId } from "../matrix/ids.js";
import type { Db } from "../store/db.js";
import * as devices from "../store/devices.js";
import type { TokenService } from "./tokens.js";

export interface DeviceJson {
  device_id: string;
  display_name?: string;
  last_seen_ip?: string;
  last_seen_ts?: number;
}

const toJson = (d: devices.DeviceRow): DeviceJson => ({
  device_id: d.deviceId,
  ...(d.displayName !== null ? { display_name: d.displayName } : {}),
  ...(d.lastSeenIp !== null ? { last_seen_ip: d.lastSeenIp } : {}),
  ...(d.lastSeenTs !== null ? { last_seen_ts: d.lastSeenTs } : {}),
});

export class DeviceService {
  constructor(private readonly db: Db, private readonly tokens: TokenService) {}

  async list(userId: UserId): Promise<DeviceJson[]> {
    await this.tokens.flushSeen(); // last-seen times are written in batches
    return (await devices.selectDevices(this.db, userId)).map(toJson);
  }

  /** With the client software last seen (whois and the admin API; not in the spec's device). */
  async listDetailed(userId: UserId): Promise<(DeviceJson & { last_seen_user_agent: string | null })[]> {
    await this.tokens.flushSeen();
    return (await devices.selectDevices(this.db, userId)).map((d) => ({ ...toJson(d), last_seen_user_agent: d.lastSeenUserAgent ?? null }));
  }

  async get(userId: UserId, deviceId: DeviceId): Promise<DeviceJson> {
    await this.tokens.flushSeen();
    const d = await devices.selectDevice(this.db, userId, deviceId);
    if (!d) throw notFound("Device not found");
    return toJson(d);
  }

  /** An application service makes a device for one of its users (MSC4190). True if it is new. */
  async create(userId: UserId, deviceId: DeviceId, name: string | null): Promise<boolean> {
    const created = await devices.upsertDevice(this.db, userId, deviceId, name);
    if (created) await this.onChanged(userId);
    else if (name !== null) await this.rename(userId, deviceId, name);
    return created;
  }

  async rename(userId: UserId, deviceId: DeviceId, name: string | null): Promise<void> {
    if (!(await devices.updateDeviceName(this.db, userId, deviceId, name))) throw notFound("Device not found");
    // The name is part of what /keys/query shows of the device: room-mates hear of it.
    await this.onChanged(userId);
  }

  /** A device's public details changed (its name). */
  onChanged: (userId: UserId) => Promise<void> = async () => undefined;

  /** Deletes devices and, with them, their tokens. Unknown IDs are ignored (spec: delete_devices). */
  async delete(userId: UserId, deviceIds: DeviceId[]): Promise<void> {
    await devices.deleteDevices(this.db, userId, deviceIds);
    this.tokens.forgetUser(userId);
    await this.onDeleted(userId, deviceIds);
  }

  /** Devices are gone: their encryption keys go too (e2ee.ts), and room-mates hear of it. */
  onDeleted: (userId: UserId, deviceIds: string[]) => Promise<void> = async () => undefined;

  async exists(userId: UserId, deviceId: DeviceId): Promise<boolean> {
    return (await devices.selectDevice(this.db, userId, deviceId)) !== null;
  }

  /** POST /logout: the token's device goes, as the spec says. */
  async logout(userId: UserId, deviceId: DeviceId): Promise<void> {
    await devices.deleteDevices(this.db, userId, [deviceId]);
    this.tokens.forgetUser(userId);
    await this.onDeleted(userId, [deviceId]);
  }

  async logoutAll(userId: UserId): Promise<void> {
    const all = (await devices.selectDevices(this.db, userId)).map((d) => d.deviceId);
    await devices.deleteDevices(this.db, userId, "all");
    this.tokens.forgetUser(userId);
    if (all.length) await this.onDeleted(userId, all);
  }
}
