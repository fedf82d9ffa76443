// content_repo.yaml and authed_content_repo.yaml: uploads, downloads, thumbnails, config.
import { createReadStream } from "node:fs";
import type { Response } from "express";
import { MatrixError } from "../../http/errors.js";
import { defineRoutes, type Ctx, type RouteDef } from "../../http/route.js";
import type { Services } from "../../services/index.js";
import type { MediaFile } from "../../services/media.js";

function send(res: Response, s: Services, f: MediaFile, name?: string): void {
  // Headers go out now, so the route wrapper knows the response is being sent.
  res.writeHead(200, s.media.headers(f, name));
  createReadStream(f.path).on("error", () => res.destroy()).pipe(res);
}

function thumbnailParams(query: Record<string, string | undefined>): { w: number; h: number; method: "crop" | "scale" } {
  const num = (k: string) => {
    const v = query[k];
    if (v === undefined) throw new MatrixError(400, "M_MISSING_PARAM", `${k} is required`);
    if (!/^\d{1,5}$/.test(v) || Number(v) < 1) throw new MatrixError(400, "M_INVALID_PARAM", `${k} must be a positive integer`);
    return Number(v);
  };
  const method = query.method ?? "scale";
  if (method !== "crop" && method !== "scale") throw new MatrixError(400, "M_INVALID_PARAM", "method must be crop or scale");
  return { w: num("width"), h: num("height"), method };
}

const download = (auth: "user" | "none"): Omit<RouteDef, "path"> => ({
  method: "GET", auth, guest: true,
  async handler({ params, res }: Ctx<unknown>, s: Services) {
    if (auth === "none" && !s.config.media.legacy_unauthenticated_download) throw new MatrixError(404, "M_NOT_FOUND", "Use the authenticated media endpoints");
    send(res, s, await s.media.file(params.serverName!, params.mediaId!), params.fileName);
  },
});

const thumbnail = (auth: "user" | "none"): Omit<RouteDef, "path"> => ({
  method: "GET", auth, guest: true,
  async handler({ params, query, res }: Ctx<unknown>, s: Services) {
    if (auth === "none" && !s.config.media.legacy_unauthenticated_download) throw new MatrixError(404, "M_NOT_FOUND", "Use the authenticated media endpoints");
    const t = thumbnailParams(query);
    send(res, s, await s.media.thumbnail(params.serverName!, params.mediaId!, t.w, t.h, t.method));
  },
});

const config = (_ctx: Ctx<unknown>, s: Services) => ({ "m.upload.size": s.media.maxUpload });

export default defineRoutes({
  /** POST /_matrix/media/v3/upload */
  uploadContent: {
    method: "POST", path: "/_matrix/media/v3/upload", auth: "user", guest: false, raw: true,
    async handler({ user, body, req, query }, s) {
      return { content_uri: await s.media.upload(user.userId, body as Buffer, req.headers["content-type"], query.filename) };
    },
  },
  /** PUT /_matrix/media/v3/upload/{serverName}/{mediaId} */
  uploadContentToMXC: {
    method: "PUT", path: "/_matrix/media/v3/upload/:serverName/:mediaId", auth: "user", raw: true,
    async handler({ user, body, req, query, params }, s) {
      await s.media.uploadTo(user.userId, params.serverName!, params.mediaId!, body as Buffer, req.headers["content-type"], query.filename);
      return {};
    },
  },
  /** POST /_matrix/media/v1/create */
  createContent: {
    method: "POST", path: "/_matrix/media/v1/create", auth: "user",
    handler: ({ user }, s) => s.media.create(user.userId),
  },
  getContent_authed: { ...download("user"), path: "/_matrix/client/v1/media/download/:serverName/:mediaId" },
  getContentOverrideName_authed: { ...download("user"), path: "/_matrix/client/v1/media/download/:serverName/:mediaId/:fileName" },
  getContentThumbnail_authed: { ...thumbnail("user"), path: "/_matrix/client/v1/media/thumbnail/:serverName/:mediaId" },
  getConfig_authed: { method: "GET", path: "/_matrix/client/v1/media/config", auth: "user", guest: true, handler: config },
  getContent: { ...download("none"), path: "/_matrix/media/v3/download/:serverName/:mediaId" },
  getContentOverrideName: { ...download("none"), path: "/_matrix/media/v3/download/:serverName/:mediaId/:fileName" },
  getContentThumbnail: { ...thumbnail("none"), path: "/_matrix/media/v3/thumbnail/:serverName/:mediaId" },
  getConfig: { method: "GET", path: "/_matrix/media/v3/config", auth: "user", guest: true, handler: config },
});
