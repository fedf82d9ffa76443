// What login and registration share: the device a new session asks for, and the application
// service behind an `m.login.application_service` request.
import type { Request } from "express";
import { extractAccessToken, missingToken } from "../../http/auth.js";
import { unknownToken } from "../../http/errors.js";
import { parseDeviceId, type DeviceId } from "../../matrix/ids.js";
import type { Appservice } from "../../services/appservices.js";
import type { Services } from "../../services/index.js";

export function deviceRequest(body: { device_id?: string | null; initial_device_display_name?: string | null; refresh_token?: boolean }): { deviceId: DeviceId | null; deviceName: string | null; refresh: boolean } {
  return {
    // null is taken as absent: synapse-admin sends `"device_id": null` on its first login.
    deviceId: body.device_id !== undefined && body.device_id !== null ? parseDeviceId(body.device_id) : null,
    deviceName: body.initial_device_display_name ?? null,
    refresh: body.refresh_token === true,
  };
}

/** The application service whose as_token the request carries (401 otherwise). */
export function requestingAppservice(req: Request, s: Services): Appservice {
  const token = extractAccessToken(req);
  if (!token) throw missingToken();
  const as = s.appservices.fromToken(token);
  if (!as) throw unknownToken();
  return as;
}
