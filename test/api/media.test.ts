// content_repo.yaml / authed_content_repo.yaml: upload, download, thumbnails, limits, safety headers.
import { expect } from "chai";
import sharp from "sharp";
import { useServer } from "../helpers/server.js";

describe("media", () => {
  const t = useServer({ media: { max_upload_bytes: 200_000 } });
  const png = (w: number, h: number) => sharp({ create: { width: w, height: h, channels: 3, background: "#3366cc" } }).png().toBuffer();
  const upload = (token: string, bytes: Buffer, type: string, name?: string) =>
    fetch(`${t.s.hs.url}/_matrix/media/v3/upload${name ? `?filename=${encodeURIComponent(name)}` : ""}`, { method: "POST", headers: { Authorization: `Bearer ${token}`, "Content-Type": type }, body: bytes });
  const path = (mxc: string) => mxc.replace("mxc://", "");

  it("upload → authenticated download returns the same bytes, with safe headers; config says the limit", async () => {
    const u = await t.s.client().register();
    const bytes = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 256));
    const up = await upload(u.token!, bytes, "application/octet-stream", "data.bin");
    expect(up.status).to.equal(200);
    const { content_uri } = await up.json() as { content_uri: string };
    expect(content_uri).to.match(/^mxc:\/\/localhost\//);
    const dl = await fetch(`${t.s.hs.url}/_matrix/client/v1/media/download/${path(content_uri)}`, { headers: { Authorization: `Bearer ${u.token}` } });
    expect(dl.status).to.equal(200);
    expect(Buffer.from(await dl.arrayBuffer()).equals(bytes)).to.equal(true);
    expect(dl.headers.get("content-disposition")).to.match(/^attachment; filename\*=UTF-8''data\.bin$/);
    expect(dl.headers.get("content-security-policy")).to.contain("sandbox");
    expect(dl.headers.get("x-content-type-options")).to.equal("nosniff");
    const cfg = await u.get("/_matrix/client/v1/media/config");
    expect(cfg.body["m.upload.size"]).to.equal(200_000);
    // The deprecated r0 prefix (older clients upload there): the same handlers.
    const r0 = await fetch(`${t.s.hs.url}/_matrix/media/r0/upload`, { method: "POST", headers: { Authorization: `Bearer ${u.token}`, "Content-Type": "text/plain" }, body: "old prefix" });
    expect(r0.status).to.equal(200);
    expect((await u.get("/_matrix/media/r0/config")).body["m.upload.size"]).to.equal(200_000);
  });

  it("HTML is never served as HTML; the authenticated endpoints need a token; unknown media is 404; too large is 413", async () => {
    const u = await t.s.client().register();
    const up = await upload(u.token!, Buffer.from("<script>alert(1)</script>"), "text/html");
    const { content_uri } = await up.json() as { content_uri: string };
    const dl = await fetch(`${t.s.hs.url}/_matrix/client/v1/media/download/${path(content_uri)}`, { headers: { Authorization: `Bearer ${u.token}` } });
    expect(dl.headers.get("content-type")).to.equal("application/octet-stream");
    expect(dl.headers.get("content-disposition")).to.match(/^attachment/);
    expect((await fetch(`${t.s.hs.url}/_matrix/client/v1/media/download/${path(content_uri)}`)).status).to.equal(401);
    const unknown = await u.get("/_matrix/client/v1/media/download/localhost/nope");
    expect(unknown.status).to.equal(404);
    expect(unknown.body.errcode).to.equal("M_NOT_FOUND");
    expect((await u.get("/_matrix/client/v1/media/download/elsewhere.org/abc")).status).to.equal(404);
    const big = await upload(u.token!, Buffer.alloc(300_000), "application/octet-stream");
    expect(big.status).to.equal(413);
    expect(((await big.json()) as { errcode: string }).errcode).to.equal("M_TOO_LARGE");
    // The legacy unauthenticated download still serves old clients (configurable).
    expect((await fetch(`${t.s.hs.url}/_matrix/media/v3/download/${path(content_uri)}`)).status).to.equal(200);
  });

  it("thumbnails: cropped and scaled to the sizes asked for, and cached", async () => {
    const u = await t.s.client().register();
    const up = await upload(u.token!, await png(1000, 500), "image/png", "wide.png");
    const { content_uri } = await up.json() as { content_uri: string };
    const thumb = async (q: string) => {
      const r = await fetch(`${t.s.hs.url}/_matrix/client/v1/media/thumbnail/${path(content_uri)}?${q}`, { headers: { Authorization: `Bearer ${u.token}` } });
      expect(r.status).to.equal(200);
      return sharp(Buffer.from(await r.arrayBuffer())).metadata();
    };
    const crop = await thumb("width=96&height=96&method=crop");
    expect([crop.width, crop.height]).to.deep.equal([96, 96]);
    const scale = await thumb("width=320&height=240&method=scale");
    expect([scale.width, scale.height]).to.deep.equal([320, 160]); // aspect ratio kept
    const again = await thumb("width=90&height=90&method=crop");
    expect([again.width, again.height]).to.deep.equal([96, 96]);
    const bad = await u.get(`/_matrix/client/v1/media/thumbnail/${path(content_uri)}?width=0&height=10`);
    expect(bad.status).to.equal(400);
    // Not an image: no thumbnail, a clear error.
    const txt = await upload(u.token!, Buffer.from("just text"), "text/plain");
    const notImage = await u.get(`/_matrix/client/v1/media/thumbnail/${path(((await txt.json()) as { content_uri: string }).content_uri)}?width=32&height=32&method=crop`);
    expect(notImage.status).to.equal(400);
    expect(notImage.body.errcode).to.equal("M_UNKNOWN");
  });

  it("the same new thumbnail asked for many times at once: every answer is the whole image", async () => {
    const c = await t.s.client().register();
    const png = await sharp({ create: { width: 900, height: 700, channels: 3, background: { r: 1, g: 2, b: 3 } } }).png().toBuffer();
    const up = await c.req("POST", "/_matrix/media/v3/upload", { raw: png, headers: { "Content-Type": "image/png" } });
    const id = String(up.body.content_uri).split("/").pop();
    const answers = await Promise.all(Array.from({ length: 12 }, async () => {
      const r = await fetch(`${t.s.hs.url}/_matrix/client/v1/media/thumbnail/localhost/${id}?width=320&height=240&method=scale`, { headers: { Authorization: `Bearer ${c.token}` }, signal: AbortSignal.timeout(20_000) });
      const body = Buffer.from(await r.arrayBuffer());
      return { status: r.status, length: Number(r.headers.get("content-length")), body };
    }));
    for (const a of answers) {
      expect(a.status).to.equal(200);
      expect(a.body.length).to.equal(a.length);
      expect((await sharp(a.body).metadata()).width).to.be.greaterThan(0);
    }
  });

  it("create, then upload to the ID once; before that, downloads say not yet uploaded", async () => {
    const u = await t.s.client().register();
    const other = await t.s.client().register();
    const c = await u.post("/_matrix/media/v1/create", {});
    expect(c.status).to.equal(200);
    const p = path(c.body.content_uri);
    expect((await u.get(`/_matrix/client/v1/media/download/${p}`)).body.errcode).to.equal("M_NOT_YET_UPLOADED");
    const put = (token: string) => fetch(`${t.s.hs.url}/_matrix/media/v3/upload/${p}`, { method: "PUT", headers: { Authorization: `Bearer ${token}`, "Content-Type": "text/plain" }, body: "hello" });
    expect((await put(other.token!)).status).to.equal(403);
    expect((await put(u.token!)).status).to.equal(200);
    const second = await put(u.token!);
    expect(second.status).to.equal(409);
    expect(((await second.json()) as { errcode: string }).errcode).to.equal("M_CANNOT_OVERWRITE_MEDIA");
    const dl = await fetch(`${t.s.hs.url}/_matrix/client/v1/media/download/${p}`, { headers: { Authorization: `Bearer ${u.token}` } });
    expect(await dl.text()).to.equal("hello");
  });
});
