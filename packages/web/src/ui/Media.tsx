// Images and files behind authenticated media: fetched with the token (an <img> cannot send
// one) and shown from blob: URLs, thumbnails for the timeline and the original on click.
import { useEffect, useState } from "preact/hooks";
import type { Json } from "@ganglion/client";
import { useApp } from "./context.js";

const cache = new Map<string, Promise<string>>();

/**
 * A blob: URL has this page's origin, so a blob that renders as a page (HTML, SVG) would run
 * in it: only types that cannot carry script keep their type, the rest become downloads.
 */
const SAFE_TYPE = /^(image\/(png|jpeg|gif|webp|avif|apng)|video\/(mp4|webm|ogg)|audio\/(mp4|mpeg|ogg|webm|wav|flac|aac)|text\/plain)$/;
const safeType = (t: string | null) => {
  const base = (t ?? "").split(";")[0]!.trim().toLowerCase();
  return SAFE_TYPE.test(base) ? base : "application/octet-stream";
};

function blobUrl(key: string, load: () => Promise<{ data: ArrayBuffer; contentType: string | null }>): Promise<string> {
  let p = cache.get(key);
  if (!p) {
    p = load().then((r) => URL.createObjectURL(new Blob([r.data], { type: safeType(r.contentType) })));
    p.catch(() => cache.delete(key));
    cache.set(key, p);
  }
  return p;
}

export function ImageMessage({ content }: { content: Json }) {
  const { client } = useApp();
  const url = typeof content.url === "string" ? content.url : null;
  const [src, setSrc] = useState<string | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    if (!url) return;
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // A failed fetch (a dropped connection, say) is tried twice more before the image shows as text.
    const load = (tries: number) => blobUrl(`t:${url}`, () => client.http.thumbnail(url, 320, 240)).then(
      (s) => { if (live) setSrc(s); },
      () => { if (!live) return; if (tries > 1) timer = setTimeout(() => load(tries - 1), 1000); else setFailed(true); });
    void load(3);
    return () => { live = false; clearTimeout(timer); };
  }, [url]);
  const open = async () => {
    if (!url) return;
    const full = await blobUrl(`d:${url}`, () => client.http.download(url));
    window.open(full, "_blank", "noopener");
  };
  if (!url || failed) return <span class="muted">[image: {String(content.body ?? "")}]</span>;
  return src ? <img class="thumb" src={src} alt={String(content.body ?? "image")} onClick={open} data-testid="thumbnail" /> : <span class="muted">Loading image…</span>;
}

export function FileMessage({ content }: { content: Json }) {
  const { client } = useApp();
  const url = typeof content.url === "string" ? content.url : null;
  const size = (content.info as { size?: number } | undefined)?.size;
  const download = async () => {
    if (!url) return;
    const href = await blobUrl(`d:${url}`, () => client.http.download(url));
    const a = document.createElement("a");
    a.href = href;
    a.download = String(content.body ?? "file");
    a.click();
  };
  return <button class="file" onClick={download} data-testid="file">📎 {String(content.body ?? "file")}{typeof size === "number" ? ` (${Math.ceil(size / 1024)} KiB)` : ""}</button>;
}

/** Uploads a file and sends it as m.image (with its size in pixels) or m.file. */
export async function sendFile(client: ReturnType<typeof useApp>["client"], roomId: string, file: File): Promise<void> {
  const url = await client.http.upload(file, file.type || "application/octet-stream", file.name);
  const info: Json = { mimetype: file.type || "application/octet-stream", size: file.size };
  if (file.type.startsWith("image/")) {
    try {
      const bmp = await createImageBitmap(file);
      info.w = bmp.width; info.h = bmp.height;
      bmp.close();
    } catch { /* not an image the browser can read: sent without its size */ }
    client.send(roomId, { msgtype: "m.image", body: file.name, url, info });
  } else {
    client.send(roomId, { msgtype: "m.file", body: file.name, url, info });
  }
}
