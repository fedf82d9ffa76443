// The media repository. https://spec.matrix.org/latest/client-server-api/#content-repository
// Bytes on disk under media.store_path (a file per media ID, thumbnails beside), metadata in
// Postgres. Thumbnails are made with sharp (libvips) on first request and kept.
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
// sharp (libvips) is loaded on the first thumbnail, not at start: it costs ~23 MiB of memory.
let sharpModule: Promise<typeof import("sharp")> | null = null;
const loadSharp = async () => (await (sharpModule ??= import("sharp"))).default;
import type { Config } from "../config/schema.js";
import { MatrixError, forbidden, notFound } from "../http/errors.js";
import type { UserId } from "../matrix/ids.js";
import type { Db } from "../store/db.js";

export interface MediaFile { path: string; contentType: string; filename: string | null; size: number }

/** Types a browser may show inline from our origin; anything else is served as an attachment. */
const INLINE_TYPES = new Set([
  "image/jpeg", "image/gif", "image/png", "image/apng", "image/webp", "image/avif",
  "video/mp4", "video/webm", "video/ogg", "video/quicktime",
  "audio/mp4", "audio/webm", "audio/aac", "audio/mpeg", "audio/ogg", "audio/wave", "audio/wav", "audio/x-wav", "audio/x-pn-wav", "audio/flac", "audio/x-flac",
  "text/plain", "text/csv", "application/json", "application/ld+json",
]);
const THUMBNAILABLE = new Set(["image/jpeg", "image/png", "image/gif", "image/webp", "image/avif", "image/tiff", "image/apng"]);
/** The sizes made (spec: servers pick the closest of their own sizes). */
const SIZES: { w: number; h: number; method: "crop" | "scale" }[] = [
  { w: 32, h: 32, method: "crop" }, { w: 96, h: 96, method: "crop" },
  { w: 320, h: 240, method: "scale" }, { w: 640, h: 480, method: "scale" }, { w: 800, h: 600, method: "scale" },
];
const MEDIA_ID = /^[A-Za-z0-9_-]{1,255}$/;
const CREATE_EXPIRES_MS = 24 * 3600 * 1000;

export class MediaService {
  constructor(private readonly db: Db, private readonly config: Config) {}

  get maxUpload(): number {
    return this.config.media.max_upload_bytes;
  }

  /** POST /media/v3/upload */
  async upload(userId: UserId, bytes: Buffer, contentType: string | undefined, filename: string | undefined): Promise<string> {
    const id = randomBytes(18).toString("base64url");
    await this.write(id, bytes);
    await this.db.raw(`INSERT INTO media (media_id, user_id, content_type, filename, size, created_ts) VALUES (?, ?, ?, ?, ?, ?)`,
      [id, userId, cleanType(contentType), cleanName(filename), bytes.length, Date.now()]);
    return this.mxc(id);
  }

  /** POST /media/v1/create: an ID to upload to later. */
  async create(userId: UserId): Promise<{ content_uri: string; unused_expires_at: number }> {
    const id = randomBytes(18).toString("base64url");
    const expires = Date.now() + CREATE_EXPIRES_MS;
    await this.db.raw(`INSERT INTO media (media_id, user_id, created_ts, expires_ts) VALUES (?, ?, ?, ?)`, [id, userId, Date.now(), expires]);
    return { content_uri: this.mxc(id), unused_expires_at: expires };
  }

  /** PUT /media/v3/upload/{serverName}/{mediaId}: once, by whoever created the ID. */
  async uploadTo(userId: UserId, serverName: string, mediaId: string, bytes: Buffer, contentType: string | undefined, filename: string | undefined): Promise<void> {
    const row = await this.row(serverName, mediaId);
    if (!row) throw notFound("Unknown media ID");
    if (row.user_id !== userId) throw forbidden("This media ID is someone else's");
    if (row.size !== null) throw new MatrixError(409, "M_CANNOT_OVERWRITE_MEDIA", "Media already uploaded");
    if (row.expires_ts !== null && Number(row.expires_ts) < Date.now()) throw notFound("This media ID has expired");
    await this.write(mediaId, bytes);
    await this.db.raw(`UPDATE media SET content_type = ?, filename = ?, size = ?, expires_ts = NULL WHERE media_id = ? AND size IS NULL`,
      [cleanType(contentType), cleanName(filename), bytes.length, mediaId]);
  }

  /** The stored file (404 M_NOT_FOUND; 504 M_NOT_YET_UPLOADED for a created, empty ID). */
  async file(serverName: string, mediaId: string): Promise<MediaFile> {
    const row = await this.row(serverName, mediaId);
    if (!row || row.quarantined_by) throw notFound("Media not found");
    if (row.size === null) throw new MatrixError(504, "M_NOT_YET_UPLOADED", "The media has not been uploaded yet");
    return { path: this.pathOf(mediaId), contentType: row.content_type ?? "application/octet-stream", filename: row.filename, size: Number(row.size) };
  }

  /** A thumbnail of an image: the smallest of our sizes that covers the request, made once. */
  async thumbnail(serverName: string, mediaId: string, width: number, height: number, method: "crop" | "scale"): Promise<MediaFile> {
    const f = await this.file(serverName, mediaId);
    if (!THUMBNAILABLE.has(f.contentType)) throw new MatrixError(400, "M_UNKNOWN", "No thumbnails for this type of media");
    const candidates = SIZES.filter((s) => s.method === method);
    const size = candidates.find((s) => s.w >= width && s.h >= height) ?? candidates[candidates.length - 1]!;
    const file = path.join(this.config.media.store_path, "thumbnails", `${mediaId}-${size.w}x${size.h}-${size.method}`);
    const known = await this.db.raw(`SELECT content_type, size FROM media_thumbnails WHERE media_id = ? AND width = ? AND height = ? AND method = ?`, [mediaId, size.w, size.h, size.method]);
    if (known.rows[0] && (await exists(file))) return { path: file, contentType: known.rows[0].content_type, filename: null, size: Number(known.rows[0].size) };
    let out: Buffer;
    try {
      const sharp = await loadSharp();
      const img = sharp(await readFile(f.path), { failOn: "none", limitInputPixels: 100_000_000 }).rotate();
      out = size.method === "crop"
        ? await img.resize(size.w, size.h, { fit: "cover" }).png().toBuffer()
        : await img.resize(size.w, size.h, { fit: "inside", withoutEnlargement: true }).png().toBuffer();
    } catch {
      throw new MatrixError(400, "M_UNKNOWN", "This image cannot be thumbnailed");
    }
    await mkdir(path.dirname(file), { recursive: true });
    // Whole or not at all, like uploads: two requests may make the same thumbnail at once, and
    // one may be streaming the file while the other writes it (a truncated file under a
    // Content-Length of the whole one left that client waiting for bytes that never came).
    const tmp = `${file}.${randomBytes(4).toString("hex")}.tmp`;
    await writeFile(tmp, out);
    await rename(tmp, file);
    await this.db.raw(`INSERT INTO media_thumbnails (media_id, width, height, method, content_type, size) VALUES (?, ?, ?, ?, 'image/png', ?) ON CONFLICT DO NOTHING`,
      [mediaId, size.w, size.h, size.method, out.length]);
    return { path: file, contentType: "image/png", filename: null, size: out.length };
  }

  /** Headers that keep media from running as a page of our origin (spec: security considerations). */
  headers(f: MediaFile, requestedName?: string): Record<string, string> {
    const inline = INLINE_TYPES.has(f.contentType);
    const name = requestedName ?? f.filename;
    return {
      "Content-Type": inline ? f.contentType : "application/octet-stream",
      "Content-Length": String(f.size),
      "Content-Disposition": `${inline ? "inline" : "attachment"}${name ? `; filename*=UTF-8''${encodeURIComponent(name)}` : ""}`,
      "Content-Security-Policy": "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; media-src 'self'; object-src 'self';",
      "X-Content-Type-Options": "nosniff",
      "Cross-Origin-Resource-Policy": "cross-origin",
      "Cache-Control": "public, max-age=86400, immutable",
    };
  }

  private mxc(id: string): string {
    return `mxc://${this.config.server_name}/${id}`;
  }

  private pathOf(id: string): string {
    return path.join(this.config.media.store_path, id.slice(0, 2), id);
  }

  private async write(id: string, bytes: Buffer): Promise<void> {
    const file = this.pathOf(id);
    await mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${randomBytes(4).toString("hex")}.tmp`;
    await writeFile(tmp, bytes);
    await rename(tmp, file); // whole or not at all
  }

  /** Deletes media (admin API): rows, files and thumbnails. Returns the IDs that existed. */
  async remove(mediaIds: string[]): Promise<string[]> {
    if (!mediaIds.length) return [];
    const gone = await this.db.raw(`DELETE FROM media WHERE media_id = ANY(?::text[]) RETURNING media_id`, [mediaIds]);
    const thumbs = await this.db.raw(`DELETE FROM media_thumbnails WHERE media_id = ANY(?::text[]) RETURNING media_id, width, height, method`, [mediaIds]);
    const ids = gone.rows.map((r: { media_id: string }) => r.media_id);
    for (const id of ids) await rm(this.pathOf(id), { force: true });
    for (const t of thumbs.rows as { media_id: string; width: number; height: number; method: string }[]) {
      await rm(path.join(this.config.media.store_path, "thumbnails", `${t.media_id}-${t.width}x${t.height}-${t.method}`), { force: true });
    }
    return ids;
  }

  private async row(serverName: string, mediaId: string): Promise<{ user_id: string; content_type: string | null; filename: string | null; size: string | null; expires_ts: string | null; quarantined_by: string | null } | null> {
    // No federation: another server's media is unknown here.
    if (serverName !== this.config.server_name || !MEDIA_ID.test(mediaId)) return null;
    const r = await this.db.raw(`SELECT user_id, content_type, filename, size, expires_ts, quarantined_by FROM media WHERE media_id = ?`, [mediaId]);
    return r.rows[0] ?? null;
  }
}

function cleanType(t: string | undefined): string {
  const v = (t ?? "").split(";")[0]!.trim().toLowerCase();
  return /^[a-z0-9.+-]+\/[a-z0-9.+-]+$/.test(v) ? v : "application/octet-stream";
}

function cleanName(n: string | undefined): string | null {
  if (!n) return null;
  const v = n.replace(/[\u0000-\u001f\u007f/\\]/g, "").slice(0, 255);
  return v || null;
}

async function exists(p: string): Promise<boolean> {
  try { await stat(p); return true; } catch { return false; }
}
