// A stand-in for the Clippy API, for working on the client without the Python service:
// `node e2e/mock-api.mjs [port]` serves dist/ and fake endpoints. Images are SVGs. The real
// end-to-end test uses the real server. Its JSON answers must fit the server's OpenAPI
// document (client/openapi.json): e2e/mock-api.contract.mjs checks them (`npm test`).
import { createReadStream, existsSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, normalize } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const DIST = fileURLToPath(new URL("../dist/", import.meta.url));
const TAGS = ["cat", "dog", "tree", "house", "car", "flower", "bird", "fish", "star", "boat", "face", "hand"];
const COLORS = ["#6366f1", "#0ea5e9", "#f59e0b", "#10b981", "#ef4444", "#a855f7", "#14b8a6", "#f97316"];
const N = 60;

function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => ((s = Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32;
}

let library = Array.from({ length: N }, (_, i) => {
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
    library: "default",
  };
});

function svg(item, label) {
  const { width: w, height: h, color } = item;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}"><rect width="100%" height="100%" fill="#fff"/><circle cx="${w / 2}" cy="${h / 2}" r="${Math.min(w, h) / 3}" fill="none" stroke="${color}" stroke-width="8"/><text x="50%" y="92%" font-family="sans-serif" font-size="${Math.round(w / 12)}" text-anchor="middle" fill="#333">${label}</text></svg>`;
}

// POST /atlas: the hits' SVGs nested in one SVG page (a real server sends a PNG; the
// client does not care which), with the same manifest as the contract.
const atlases = new Map();

function atlas(body) {
  const ids = Array.isArray(body.ids) ? body.ids.map(String) : [];
  if (!ids.length || ids.length > 500) return { error: "`ids`: 1 to 500 library image ids" };
  const cell = body.cell ?? 128;
  if (!Number.isInteger(cell) || cell < 32 || cell > 256) return { error: "`cell`: 32 to 256" };
  const padding = 2;
  const items = ids.map((id) => library.find((it) => it.id === id)).filter(Boolean);
  const missing = ids.filter((id) => !items.some((it) => it.id === id));
  const columns = Math.max(1, Math.ceil(Math.sqrt(items.length)));
  const rows = Math.max(1, Math.ceil(items.length / columns));
  const sprites = {};
  const parts = items.map((it, i) => {
    const scale = Math.min(1, (cell - 2 * padding) / Math.max(it.width, it.height));
    const w = Math.max(1, Math.round(it.width * scale));
    const h = Math.max(1, Math.round(it.height * scale));
    const x = (i % columns) * cell + Math.floor((cell - w) / 2);
    const y = Math.floor(i / columns) * cell + Math.floor((cell - h) / 2);
    sprites[it.id] = { page: 0, x, y, w, h };
    return svg(it, it.tags[0]).replace(/^<svg [^>]*?width="\d+" height="\d+"/, `<svg x="${x}" y="${y}" width="${w}" height="${h}"`);
  });
  const token = `mock${atlases.size + 1}`;
  const width = columns * cell;
  const height = rows * cell;
  atlases.set(token, `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join("")}</svg>`);
  return { cell, padding, pages: [{ url: `/atlas/${token}/0.svg`, width, height }], sprites, missing };
}

function send(res, status, body, headers = {}) {
  const json = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "X-Request-ID": `mock-${Date.now()}`, ...headers });
  res.end(json);
}

// Errors as the server answers them: RFC 9457 problem details (app/api/errors.py).
function error(res, status, code, message) {
  const title = code.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
  const problem = { type: `https://clippy.dev/problems/${code}`, title, status, detail: message, instance: res.req?.url?.split("?")[0] ?? "", code, requestId: "mock", errors: [] };
  send(res, status, problem, { "Content-Type": "application/problem+json" });
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
        payload: { path: it.path, tags: it.tags, library: it.library, source: "mock" },
      };
    })
    .sort((a, b) => b.score - a.score);
  const offset = body.cursor ? Number(body.cursor) : 0;
  const limit = body.limit ?? 24;
  const page = hits.slice(offset, offset + limit);
  const next = offset + limit < hits.length ? String(offset + limit) : null;
  const weights = Object.fromEntries(keys.map(([v, k]) => [v, body[k] / total]));
  return {
    requestId: "mock",
    hits: page,
    nextCursor: next,
    weights,
    timings: { encodeMs: 3, searchMs: 1, rerankMs: 0.5, totalMs: 4.5 },
    candidates: hits.length,
    model: { name: "mock", pretrained: "random" },
  };
}

// --- cross-modal RAG and the library (issues 7 and 9) ---------------------------------------
const STYLE = /^(watercolou?r|oil|pixel|sketch|cartoon|anime|pencil|ink|vintage|painting|photo)/i;
const SETTING = /(forest|night|day|city|beach|space|sky|room|snow|sunset|street|field)$/i;

function decompose(prompt) {
  const parts = prompt
    .toLowerCase()
    .split(/,|;|\band\b|\bin\b|\bof\b|\bon\b|\bat\b|\bwith\b/)
    .map((s) => s.replace(/\b(a|an|the)\b/g, "").replace(/\s+/g, " ").trim())
    .filter(Boolean);
  const seen = new Set();
  return parts
    .filter((t) => !seen.has(t) && seen.add(t))
    .slice(0, 8)
    .map((text, i) => ({ id: `q${i + 1}`, text, kind: STYLE.test(text) ? "style" : SETTING.test(text) ? "setting" : i === 0 ? "subject" : "object", weight: 1 }));
}

function summary(it) {
  return { id: it.id, library: it.library, tags: it.tags, width: it.width, height: it.height, source: "mock", path: it.path, imageUrl: `/image/${it.id}`, thumbUrl: `/thumb/${it.id}` };
}

function complementary(body) {
  const subs = (body.subQueries?.length ? body.subQueries : decompose(body.prompt ?? "")).map((q, i) => ({ id: q.id || `q${i + 1}`, text: q.text, kind: q.kind ?? "subject", weight: q.weight ?? 1 }));
  if (!subs.length) return { error: "`subQueries` is empty: send at least one, or a `prompt`." };
  const limit = Math.min(body.limit ?? 4, subs.length, library.length);
  const picked = [...library].sort((a, b) => hashStr(subs.map((q) => q.text).join("|") + a.id) - hashStr(subs.map((q) => q.text).join("|") + b.id)).slice(0, limit);
  const threshold = 0.5;
  const cov = picked.map((it, r) => Object.fromEntries(subs.map((q, c) => [q.id, Math.round((c % limit === r ? 0.6 + rng(hashStr(q.text + it.id))() * 0.35 : rng(hashStr(it.id + q.text))() * 0.5) * 1e4) / 1e4])));
  const best = subs.map((q) => {
    let b = -1;
    cov.forEach((c, r) => (b < 0 || c[q.id] > cov[b][q.id]) && (b = r));
    return b;
  });
  const refs = picked.map((it, r) => {
    const attributed = subs.filter((_, c) => best[c] === r).map((q) => q.id);
    const style = subs.filter((q) => attributed.includes(q.id) && q.kind === "style").length > attributed.length / 2;
    const { id, tags, width, height, source, path, imageUrl, thumbUrl } = summary(it);
    return { id, tags, width, height, source, path, imageUrl, thumbUrl, rank: r + 1, gain: 0.5 / (r + 1), coverage: cov[r], covers: subs.filter((q) => cov[r][q.id] >= threshold).map((q) => q.id), attributed, role: style ? "style" : "subject", weight: 0.6 };
  });
  const attribution = subs.map((q, c) => ({ subQueryId: q.id, text: q.text, kind: q.kind, refId: refs[best[c]]?.id ?? null, score: cov[best[c]]?.[q.id] ?? 0, covered: (cov[best[c]]?.[q.id] ?? 0) >= threshold }));
  return {
    requestId: "mock",
    prompt: body.prompt ?? null,
    subQueries: subs,
    refs,
    matrix: { rows: refs.map((r) => r.id), columns: subs.map((q) => q.id), values: cov.map((c) => subs.map((q) => c[q.id])), threshold },
    attribution,
    coverage: attribution.reduce((a, x) => a + x.score, 0) / subs.length,
    covered: attribution.filter((x) => x.covered).length,
    frontier: refs.length,
    candidates: library.length,
    method: "exact",
    weights: { image: 1 / 3, text: 1 / 3, tags: 1 / 3 },
    timings: { encodeMs: 2, searchMs: 2, rerankMs: 1, totalMs: 5 },
  };
}

function listImages(q) {
  const all = library.filter((it) => (!q.get("library") || it.library === q.get("library")) && (!q.get("tag") || it.tags.includes(q.get("tag"))));
  const offset = Number(q.get("cursor") ?? 0);
  const limit = Number(q.get("limit") ?? 50);
  return { items: all.slice(offset, offset + limit).map(summary), nextCursor: offset + limit < all.length ? String(offset + limit) : null, total: all.length };
}

function duplicates(threshold) {
  const groups = new Map();
  for (const it of library) groups.set(it.tags[0], [...(groups.get(it.tags[0]) ?? []), it]);
  const near = [...groups.values()]
    .filter((g) => g.length > 1)
    .slice(0, 4)
    .map((g) => {
      const keep = [...g].sort((a, b) => b.width * b.height - a.width * a.height)[0];
      return { kind: "near", keep: keep.id, members: g.map((it) => ({ id: it.id, library: it.library, path: it.path, width: it.width, height: it.height, score: it === keep ? null : 0.97 })), minScore: 0.97, maxScore: 0.97 };
    });
  const scanned = scans.size > 0;
  return {
    library: null,
    threshold,
    scanned: library.length,
    exact: [],
    near: scanned ? near : [],
    nearScan: scanned ? { state: "succeeded", jobId: [...scans][scans.size - 1], stale: false, reason: null, threshold, scannedAt: new Date().toISOString() } : { state: "none", jobId: null, stale: false, reason: null, threshold: null, scannedAt: null },
  };
}

// Near scans (jobs of kind `duplicates`) and the trash, as the service answers them.
const scans = new Set();
const trashed = new Map();
const TRASH_TTL_S = 7 * 24 * 3600;

function trashItem(it) {
  trashed.set(it.id, { item: it, deletedAt: new Date().toISOString(), purgeAt: new Date(Date.now() + TRASH_TTL_S * 1000).toISOString() });
  library = library.filter((x) => x.id !== it.id);
  const t = trashed.get(it.id);
  return { id: it.id, thumbnailRemoved: true, fileRemoved: false, fileKeptReason: "in the trash", trashed: true, purgeAt: t.purgeAt };
}

function trashList() {
  const items = [...trashed.values()].reverse().map((t) => ({ id: t.item.id, library: t.item.library, path: t.item.path, thumbUrl: `/thumb/${t.item.id}`, deletedAt: t.deletedAt, purgeAt: t.purgeAt }));
  return { items, total: items.length, ttlS: TRASH_TTL_S };
}

// Library records (GET/POST/DELETE /libraries), as the real service answers an operator:
// the default library first, then the records by name; images imported into a name
// without a record are not listed (the client adds them from what it sees).
const records = new Map();
const LIBRARY_NAME = /^[A-Za-z0-9_-]{1,64}$/;

function libraryView(name) {
  const r = name === "default" ? { owner: null, visibility: "public", createdAt: null } : records.get(name);
  return { name, owner: r.owner, visibility: r.visibility, default: name === "default", writable: true, images: library.filter((it) => it.library === name).length, createdAt: r.createdAt };
}

async function librariesRoute(req, res, name) {
  if (name === null && req.method === "GET") return send(res, 200, { libraries: ["default", ...[...records.keys()].sort()].map(libraryView) });
  if (name === null && req.method === "POST") {
    const body = await readJson(req);
    if (typeof body.name !== "string" || !LIBRARY_NAME.test(body.name)) return error(res, 422, "invalid_input", "`name`: 1-64 letters, digits, - and _ only.");
    const visibility = body.visibility ?? "private";
    if (!["private", "public"].includes(visibility)) return error(res, 422, "invalid_input", "`visibility`: must be 'private' or 'public'.");
    if (body.name === "default") return error(res, 409, "conflict", "library 'default' is the default library (DEFAULT_LIBRARY); it always exists.");
    if (records.has(body.name)) return error(res, 409, "conflict", `library '${body.name}' already exists; pick another name.`);
    records.set(body.name, { owner: body.owner ?? null, visibility, createdAt: new Date().toISOString().slice(0, 19) + "+00:00" });
    return send(res, 201, libraryView(body.name));
  }
  if (name !== null && req.method === "GET") return records.has(name) || name === "default" ? send(res, 200, libraryView(name)) : error(res, 404, "not_found", `no library '${name}'.`);
  if (name !== null && req.method === "DELETE") {
    if (name === "default") return error(res, 409, "conflict", "library 'default' is the default library (DEFAULT_LIBRARY); it cannot be deleted.");
    const images = library.filter((it) => it.library === name).length;
    if (!records.has(name) && !images) return error(res, 404, "not_found", `no library '${name}'.`);
    library = library.filter((it) => it.library !== name);
    records.delete(name);
    return send(res, 200, { name, imagesRemoved: images, thumbnailsRemoved: images, filesRemoved: images });
  }
  return error(res, 405, "method_not_allowed", `${req.method} is not allowed here.`);
}

const jobs = new Map();
function jobView(id) {
  const j = jobs.get(id);
  if (j.base.kind === "duplicates") {
    const total = library.length;
    const done = Math.min(total, Math.floor((Date.now() - j.start) / 10));
    if (done < total) return { ...j.base, status: done === 0 ? "queued" : "running", progress: { step: done, total } };
    scans.add(id);
    const report = duplicates(j.threshold);
    return { ...j.base, status: "succeeded", progress: { step: total, total }, result: { library: null, threshold: j.threshold, scanned: total, exact: [], near: report.near, nearScan: null, libraryVersion: 0, seconds: 0.01 } };
  }
  if (j.base.kind === "import") {
    const total = j.files;
    const done = Math.min(total, Math.floor((Date.now() - j.start) / 300));
    if (done < total) return { ...j.base, status: done === 0 ? "queued" : "running", progress: { step: done, total } };
    if (!j.added) {
      j.added = true;
      for (let i = 0; i < j.files - j.broken; i++) {
        const n = library.length;
        library.push({ ...library[n % N], id: `00000000-0000-4000-9000-${String(n).padStart(12, "0")}`, library: j.library, tags: ["imported"], path: `imports/${j.library}/${n}.png` });
      }
    }
    return { ...j.base, status: "succeeded", progress: { step: total, total }, result: { library: j.library, total, ingested: total - j.broken, skipped: 0, failed: j.names.filter((x) => /broken/.test(x)).map((path) => ({ path, reason: "not a readable image (mock)" })), ids: [] } };
  }
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
    result: {
      images: [{ url: `/generated/${id}.svg`, id: null }],
      provider: "mock",
      model: "mock-v0",
      seed: 42,
      ...(j.grounded
        ? {
            attribution: j.grounded.attribution.map(({ subQueryId, text, kind, refId, score }) => ({
              subQueryId,
              text,
              kind,
              refId,
              refIndex: j.grounded.refs.findIndex((r) => r.id === refId),
              role: "subject",
              weight: 0.6,
              score,
            })),
          }
        : {}),
    },
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
        exists: true,
        points: N,
        model: "mock",
        pretrained: "random",
        randomWeights: true,
        textModel: "clip",
        vectors: { image: 4, edge: 4, text: 4 },
        sparse: ["tags"],
        edgeVersion: "canny-v1",
        running: { model: "mock", pretrained: "random", randomWeights: true, textModel: "clip", device: "cpu" },
        usable: true,
        defaults: {
          kinds: {
            sketch: { weights: { wImg: 0, wEdge: 0, wShape: 1, wTxt: 0, wTags: 0 }, rerank: true },
            text: { weights: { wImg: 0, wEdge: 0, wShape: 0, wTxt: 1, wTags: 0.5 }, rerank: true },
          },
          source: "the mock's own table",
          withoutSignal: { image: "random weights", edge: "random weights" },
        },
      });
    if (p === "/search/hybrid" && req.method === "POST") {
      const body = await readJson(req);
      const r = search(body);
      if (r.error) return error(res, 422, "invalid_input", r.error);
      await new Promise((ok) => setTimeout(ok, 80));
      return send(res, 200, r);
    }
    if (p === "/search/decompose" && req.method === "POST") {
      const body = await readJson(req);
      return send(res, 200, { requestId: "mock", prompt: body.prompt, subQueries: decompose(body.prompt ?? ""), parser: "rules" });
    }
    if (p === "/search/complementary" && req.method === "POST") {
      const r = complementary(await readJson(req));
      return r.error ? error(res, 422, "invalid_input", r.error) : send(res, 200, r);
    }
    if (p === "/atlas" && req.method === "POST") {
      const r = atlas(await readJson(req));
      return r.error ? error(res, 422, "invalid_input", r.error) : send(res, 200, r);
    }
    const am = p.match(/^\/atlas\/([^/]+)\/0\.svg$/);
    if (am) {
      if (!atlases.has(am[1])) return error(res, 404, "not_found", `No atlas '${am[1]}'`);
      res.writeHead(200, { "Content-Type": "image/svg+xml" });
      return res.end(atlases.get(am[1]));
    }
    if (p === "/images" && req.method === "GET") return send(res, 200, listImages(url.searchParams));
    if (p === "/images/duplicates") return send(res, 200, duplicates(0.95));
    if (p === "/images/duplicates/scans" && req.method === "POST") {
      const body = await readJson(req);
      const id = `job-${jobs.size + 1}`;
      const now = new Date().toISOString();
      jobs.set(id, { start: Date.now(), base: { id, kind: "duplicates", status: "queued", progress: null, result: null, error: null, createdAt: now, updatedAt: now }, threshold: body.threshold ?? 0.95 });
      return send(res, 202, jobView(id), { Location: `/jobs/${id}` });
    }
    if (p === "/images/deletions" && req.method === "POST") {
      const body = await readJson(req);
      const ids = [...new Set(body.ids ?? [])];
      if (ids.length > 3 && body.confirm !== ids.length) return error(res, 422, "invalid_input", `deleting ${ids.length} items needs \`confirm\` set to ${ids.length}`);
      const found = ids.map((id) => library.find((it) => it.id === id));
      if (found.some((it) => !it)) return error(res, 404, "not_found", "no library image with one of these ids");
      return send(res, 200, { deleted: found.map(trashItem) });
    }
    if (p === "/trash" && req.method === "GET") return send(res, 200, trashList());
    const rm = p.match(/^\/images\/([^/]+)\/restore$/);
    if (rm && req.method === "POST") {
      const t = trashed.get(rm[1]);
      if (!t) return error(res, 404, "not_found", `no item '${rm[1]}' in the trash`);
      trashed.delete(rm[1]);
      library.push(t.item);
      return send(res, 200, summary(t.item));
    }
    const dm = p.match(/^\/images\/([^/]+)$/);
    if (dm && req.method === "DELETE") {
      const it = library.find((x) => x.id === dm[1]);
      if (!it) return error(res, 404, "not_found", `no library image with id '${dm[1]}'`);
      return send(res, 200, trashItem(it));
    }
    if (p === "/libraries") return await librariesRoute(req, res, null);
    const lm = p.match(/^\/libraries\/([^/]+)$/);
    if (lm) return await librariesRoute(req, res, decodeURIComponent(lm[1]));
    const im = p.match(/^\/libraries\/([^/]+)\/imports$/);
    if (im && req.method === "POST") {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const raw = Buffer.concat(chunks).toString("latin1");
      const names = [...raw.matchAll(/filename="([^"]*)"/g)].map((x) => x[1]);
      const urls = names.length ? [] : (JSON.parse(raw || "{}").urls ?? []);
      const all = names.length ? names : urls;
      if (!all.length) return error(res, 422, "invalid_input", "send at least one file in `files`.");
      const id = `job-${jobs.size + 1}`;
      const now = new Date().toISOString();
      jobs.set(id, { start: Date.now(), files: all.length, names: all, broken: all.filter((x) => /broken/.test(x)).length, library: decodeURIComponent(im[1]), base: { id, kind: "import", status: "queued", progress: null, result: null, error: null, createdAt: now, updatedAt: now } });
      return send(res, 202, jobView(id), { Location: `/jobs/${id}` });
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
        grounded: body.grounding ? body.complementary : null,
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

// Run as a program it listens; imported (e2e/mock-api.contract.mjs) it waits to be started.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const port = Number(process.argv[2] ?? process.env.PORT ?? 8000);
  server.listen(port, "127.0.0.1", () => console.log(`mock Clippy API on http://127.0.0.1:${port}`));
}
export default server;
