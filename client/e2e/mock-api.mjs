// A stand-in for the Clippy API (CONTRACT.md), for working on the client without
// the Python service: `node e2e/mock-api.mjs [port]` serves dist/ and fake
// endpoints. Images are SVGs. The real end-to-end test uses the real server.
import { createReadStream, existsSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const DIST = fileURLToPath(new URL("../dist/", import.meta.url));
const TAGS = ["cat", "dog", "tree", "house", "car", "flower", "bird", "fish", "star", "boat", "face", "hand"];
const COLORS = ["#6366f1", "#0ea5e9", "#f59e0b", "#10b981", "#ef4444", "#a855f7", "#14b8a6", "#f97316"];
const N = 60;

function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => ((s = Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32;
}

const library = Array.from({ length: N }, (_, i) => {
  const r = rng(i + 7);
  const w = [256, 320, 384, 512][i % 4];
  const h = [256, 384, 320, 512, 448][i % 5];
  return {
    id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
    tags: [TAGS[i % TAGS.length], TAGS[(i * 5 + 3) % TAGS.length]],
    width: w,
    height: h,
    vec: [r(), r(), r(), r()],
    color: COLORS[i % COLORS.length],
    path: `sample/${TAGS[i % TAGS.length]}-${i}.png`,
  };
});

function svg(item, label) {
  const { width: w, height: h, color } = item;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}"><rect width="100%" height="100%" fill="#fff"/><circle cx="${w / 2}" cy="${h / 2}" r="${Math.min(w, h) / 3}" fill="none" stroke="${color}" stroke-width="8"/><text x="50%" y="92%" font-family="sans-serif" font-size="${Math.round(w / 12)}" text-anchor="middle" fill="#333">${label}</text></svg>`;
}

function send(res, status, body, headers = {}) {
  const json = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "X-Request-ID": `mock-${Date.now()}`, ...headers });
  res.end(json);
}

function error(res, status, code, message) {
  send(res, status, { error: { code, message, details: {} }, requestId: "mock" });
}

async function readJson(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
}

function hashStr(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function search(body) {
  const keys = [
    ["image", "wImg"],
    ["edge", "wEdge"],
    ["text", "wTxt"],
    ["tags", "wTags"],
  ];
  for (const [, k] of keys) if (typeof body[k] !== "number" || body[k] < 0) return { error: `\`${k}\`: must be >= 0` };
  const total = keys.reduce((a, [, k]) => a + body[k], 0);
  if (total <= 0) return { error: "`wImg`, `wEdge`, `wTxt`, `wTags`: not all zero" };
  const qr = rng(hashStr(`${body.queryText ?? ""}|${(body.sketch ?? "").length}|${(body.image ?? "").length}`));
  const q = [qr(), qr(), qr(), qr()];
  const f = body.filter ?? {};
  const hits = library
    .filter((it) => (f.tagsAll ?? []).every((t) => it.tags.includes(t)) && !(f.tagsNone ?? []).some((t) => it.tags.includes(t)))
    .filter((it) => !(body.negativeIds ?? []).includes(it.id))
    .map((it) => {
      const views = {};
      let score = 0;
      keys.forEach(([v, k], j) => {
        const raw = 1 - Math.abs(it.vec[j] - q[j]);
        const weight = body[k] / total;
        views[v] = { raw: raw * 0.4, calibrated: raw, weight };
        score += raw * weight;
      });
      return {
        id: it.id,
        score,
        views,
        imageUrl: `/image/${it.id}`,
        thumbUrl: `/thumb/${it.id}`,
        tags: it.tags,
        width: it.width,
        height: it.height,
        source: "mock",
        path: it.path,
      };
    })
    .sort((a, b) => b.score - a.score);
  const offset = body.cursor ? Number(body.cursor) : 0;
  const limit = body.limit ?? 24;
  const page = hits.slice(offset, offset + limit);
  const next = offset + limit < hits.length ? String(offset + limit) : null;
  const weights = Object.fromEntries(keys.map(([v, k]) => [v, body[k] / total]));
  return { requestId: "mock", hits: page, nextCursor: next, weights, timings: { encodeMs: 3, searchMs: 1, rerankMs: 0.5, totalMs: 4.5 } };
}

const jobs = new Map();
function jobView(id) {
  const j = jobs.get(id);
  const elapsed = Date.now() - j.start;
  const total = 8;
  const step = Math.min(total, Math.floor(elapsed / 250));
  if (j.cancelled) return { ...j.base, status: "cancelled", updatedAt: new Date().toISOString() };
  if (j.fail) return { ...j.base, status: "failed", error: { code: "provider_error", message: "mock provider: prompt 'fail' always fails" } };
  if (elapsed < 400) return { ...j.base, status: "queued" };
  if (step < total) return { ...j.base, status: "running", progress: { step, total } };
  return {
    ...j.base,
    status: "succeeded",
    progress: { step: total, total },
    result: { images: [{ url: `/generated/${id}.svg`, id: null }], provider: "mock", model: "mock-v0", seed: 42 },
  };
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url, "http://x");
  const p = url.pathname;
  try {
    if (p === "/healthz") return send(res, 200, { status: "ok" });
    if (p === "/info")
      return send(res, 200, {
        collection: "clippy",
        points: N,
        model: { name: "mock", pretrained: "random", randomWeights: true },
        textModel: "clip",
        vectors: { image: 4, edge: 4, text: 4 },
        sparse: ["tags"],
        edgeVersion: "canny-v1",
      });
    if (p === "/search/hybrid" && req.method === "POST") {
      const body = await readJson(req);
      const r = search(body);
      if (r.error) return error(res, 422, "invalid_input", r.error);
      await new Promise((ok) => setTimeout(ok, 80));
      return send(res, 200, r);
    }
    const m = p.match(/^\/(thumb|image)\/(.+)$/);
    if (m) {
      const it = library.find((x) => x.id === m[2]);
      if (!it) return error(res, 404, "not_found", `No image with id '${m[2]}'`);
      res.writeHead(200, { "Content-Type": "image/svg+xml" });
      return res.end(svg(it, it.tags[0]));
    }
    if (p === "/images/generate" && req.method === "POST") {
      const body = await readJson(req);
      const id = `job-${jobs.size + 1}`;
      const now = new Date().toISOString();
      jobs.set(id, {
        start: Date.now(),
        fail: /fail/.test(body.prompt ?? ""),
        base: { id, kind: "generate", status: "queued", progress: null, result: null, error: null, createdAt: now, updatedAt: now },
      });
      return send(res, 202, jobView(id), { Location: `/jobs/${id}` });
    }
    const jm = p.match(/^\/jobs\/(.+)$/);
    if (jm) {
      if (!jobs.has(jm[1])) return error(res, 404, "not_found", `No job '${jm[1]}'`);
      if (req.method === "DELETE") jobs.get(jm[1]).cancelled = true;
      return send(res, 200, jobView(jm[1]));
    }
    const gm = p.match(/^\/generated\/(.+)\.svg$/);
    if (gm) {
      res.writeHead(200, { "Content-Type": "image/svg+xml" });
      return res.end(svg({ width: 512, height: 512, color: "#ec4899" }, "generated"));
    }
    // Static client.
    let file = normalize(join(DIST, p === "/" ? "index.html" : p));
    if (!file.startsWith(DIST) || !existsSync(file) || !statSync(file).isFile()) file = join(DIST, "index.html");
    const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png" };
    res.writeHead(200, { "Content-Type": types[extname(file)] ?? "application/octet-stream" });
    createReadStream(file).pipe(res);
  } catch (e) {
    error(res, 500, "internal_error", String(e));
  }
});

const port = Number(process.argv[2] ?? process.env.PORT ?? 8000);
server.listen(port, "127.0.0.1", () => console.log(`mock Clippy API on http://127.0.0.1:${port}`));
export default server;
