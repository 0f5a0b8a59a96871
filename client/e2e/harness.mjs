// End-to-end harness: build the client if needed, start the real Clippy server
// (or the mock, or use one already running), and drive Debian's Chromium with
// playwright-core. Never downloads a browser.
import { spawn, spawnSync } from "node:child_process";
import { cpSync, createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, request as httpRequest } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const CLIENT = fileURLToPath(new URL("..", import.meta.url));
export const REPO = fileURLToPath(new URL("../..", import.meta.url));
export const ARTIFACTS = join(CLIENT, "e2e", "artifacts");
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const PYTHON = process.env.CLIPPY_PYTHON ?? join(REPO, ".venv", "bin", "python");

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export function log(...args) {
  console.log("[e2e]", ...args);
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** `npm run build` when dist/ is missing (or CLIPPY_E2E_BUILD=1). */
export function ensureBuilt() {
  if (existsSync(join(CLIENT, "dist", "index.html")) && process.env.CLIPPY_E2E_BUILD !== "1") return;
  log("building the client (dist/ missing)…");
  const r = spawnSync("npm", ["run", "build"], { cwd: CLIENT, stdio: "inherit" });
  if (r.status !== 0) throw new Error(`npm run build failed with exit code ${r.status}`);
}

/** Env lines KEY=VALUE printed by `python -m tests.support.tiny_sdxl` (run from the repo root). */
export function tinySdxlEnv(outDir) {
  const script = join(REPO, "tests", "support", "tiny_sdxl.py");
  if (!existsSync(script)) throw new Error(`${script} is missing: the tiny SDXL maker is needed for the generation scenario`);
  log("making the tiny SDXL…");
  const r = spawnSync(PYTHON, ["-m", "tests.support.tiny_sdxl", "--out", outDir], { cwd: REPO, encoding: "utf8", timeout: 600_000 });
  if (r.status !== 0) throw new Error(`tests.support.tiny_sdxl failed (exit ${r.status}):\n${(r.stderr ?? "").slice(-4000)}`);
  const env = {};
  for (const line of r.stdout.split("\n")) {
    const m = line.trim().match(/^(?:export\s+)?([A-Z_][A-Z0-9_]*)=(.*)$/);
    if (m) env[m[1]] = m[2].replace(/^(['"])(.*)\1$/, "$2");
  }
  log("tiny SDXL env:", Object.keys(env).join(", ") || "(none printed)");
  return env;
}

/**
 * Env lines printed by `python -m tests.support.tiny_vlm` (a tiny random LLaVA on disk) for the
 * story provider, with a short answer so a story takes seconds on the CPU.
 */
export function tinyVlmEnv(outDir) {
  const env = (model) => ({ STORY_PROVIDER: "transformers", STORY_MODEL: model, STORY_MAX_TOKENS: "24" });
  // Built once per cache folder: each test file starts its own server.
  if (existsSync(join(outDir, "llava", "tokenizer_config.json"))) return env(join(outDir, "llava")); // the processor is saved last
  const script = join(REPO, "tests", "support", "tiny_vlm.py");
  if (!existsSync(script)) throw new Error(`${script} is missing: the tiny VLM maker is needed for the story scenario`);
  log("making the tiny VLM…");
  const r = spawnSync(PYTHON, ["-m", "tests.support.tiny_vlm", "--out", outDir], { cwd: REPO, encoding: "utf8", timeout: 300_000 });
  if (r.status !== 0) throw new Error(`tests.support.tiny_vlm failed (exit ${r.status}):\n${(r.stderr ?? "").slice(-4000)}`);
  const m = r.stdout.match(/^STORY_MODEL=(.+)$/m);
  if (!m) throw new Error(`tests.support.tiny_vlm printed no STORY_MODEL line:\n${r.stdout.slice(-2000)}`);
  return env(m[1].trim());
}

async function waitHealthy(base, proc, timeoutMs, stderrTail) {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    if (proc && proc.exitCode !== null) throw new Error(`the server exited with code ${proc.exitCode} before /healthz answered:\n${stderrTail()}`);
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = String(e.cause?.code ?? e);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`/healthz did not answer within ${timeoutMs / 1000}s (last: ${last}):\n${stderrTail()}`);
}

/**
 * Start the service the browser talks to. CLIPPY_E2E_URL: use that one.
 * CLIPPY_E2E_SERVER=mock: the mock API. Otherwise the real one, from the repo root,
 * with `env` added to its environment (e.g. API_KEYS) and its log in ARTIFACTS/`logName`.
 */
export async function startServer({ env: extraEnv = {}, logName = "server.log" } = {}) {
  mkdirSync(ARTIFACTS, { recursive: true });
  if (process.env.CLIPPY_E2E_URL) {
    const base = process.env.CLIPPY_E2E_URL.replace(/\/$/, "");
    await waitHealthy(base, null, 10_000, () => "");
    return { base, kind: "external", stop: async () => {} };
  }
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const logFile = join(ARTIFACTS, logName);
  const out = createWriteStream(logFile);
  let tail = "";
  const keep = (chunk) => {
    out.write(chunk);
    tail = (tail + chunk.toString()).slice(-6000);
  };
  let proc;
  let tmp = null;
  if (process.env.CLIPPY_E2E_SERVER === "mock") {
    proc = spawn(process.execPath, [join(CLIENT, "e2e", "mock-api.mjs"), String(port)], { cwd: CLIENT, stdio: ["ignore", "pipe", "pipe"] });
  } else {
    if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: create the venv (pip install -e .) first`);
    tmp = mkdtempSync(join(tmpdir(), "clippy-e2e-"));
    const sdxlDir = process.env.CLIPPY_E2E_SDXL_DIR ?? join(tmpdir(), "clippy-e2e-cache", "sdxl");
    mkdirSync(sdxlDir, { recursive: true });
    const vlmDir = process.env.CLIPPY_E2E_VLM_DIR ?? join(tmpdir(), "clippy-e2e-cache", "vlm");
    mkdirSync(vlmDir, { recursive: true });
    // A copy of the fixture library: imports write into IMAGES_ROOT (imports/<library>/…)
    // and deleting an imported item removes its file, so the repo's assets stay as they are.
    const images = join(tmp, "images");
    cpSync(join(REPO, "assets", "sample"), images, { recursive: true });
    const env = {
      ...process.env,
      MODEL_CONFIGS: "tests/fixtures/model_configs",
      MODEL_NAME: "clippy-tiny",
      PRETRAINED: "random",
      TEXT_MODEL: "clip",
      QDRANT_PATH: join(tmp, "qdrant"),
      THUMBS_ROOT: join(tmp, "thumbs"),
      IMAGES_ROOT: images,
      AUTO_INGEST: "true",
      GENERATED_ROOT: join(tmp, "generated"),
      // Near-duplicate scans are refused with random weights; the browser test runs one to
      // see the Duplicates view start with nothing ticked on exactly that kind of group.
      NEAR_DUPLICATES_WITH_RANDOM_WEIGHTS: "true",
      ...tinySdxlEnv(sdxlDir),
      ...tinyVlmEnv(vlmDir),
      ...extraEnv,
    };
    writeFileSync(join(ARTIFACTS, "server.env"), Object.entries(env).filter(([k]) => /^(MODEL|PRETRAINED|TEXT_|QDRANT|THUMBS|IMAGES|AUTO_|GENERAT|SDXL|IP_|DIFFUSERS|STORY)/.test(k)).map(([k, v]) => `${k}=${v}`).join("\n") + "\n");
    log(`starting uvicorn on ${base} (log: ${logFile})`);
    proc = spawn(PYTHON, ["-m", "uvicorn", "main:app", "--host", "127.0.0.1", "--port", String(port)], { cwd: REPO, env, stdio: ["ignore", "pipe", "pipe"] });
  }
  proc.stdout.on("data", keep);
  proc.stderr.on("data", keep);
  const stop = async () => {
    if (proc.exitCode === null) {
      proc.kill("SIGTERM");
      await Promise.race([new Promise((r) => proc.once("exit", r)), new Promise((r) => setTimeout(r, 8000))]);
      if (proc.exitCode === null) proc.kill("SIGKILL");
    }
    out.end();
    if (tmp && process.env.CLIPPY_E2E_KEEP_TMP !== "1") rmSync(tmp, { recursive: true, force: true });
  };
  try {
    await waitHealthy(base, proc, Number(process.env.CLIPPY_E2E_START_TIMEOUT ?? 300) * 1000, () => tail);
  } catch (e) {
    await stop();
    throw e;
  }
  log(`server ready at ${base}`);
  return { base, kind: process.env.CLIPPY_E2E_SERVER === "mock" ? "mock" : "real", stop, tail: () => tail };
}

/** Debian's Chromium with a fresh profile; `device` adds e.g. { hasTouch: true, isMobile: true } for a phone. */
export async function launch(viewport = { width: 1280, height: 800 }, device = {}) {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get update && apt-get install -y chromium`);
  const userDataDir = mkdtempSync(join(tmpdir(), "clippy-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
    deviceScaleFactor: 1,
    ...device,
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Re-encode a PNG (in the browser: no image library needed) until it fits
 * maxBytes: first fewer colour levels (invisible on flat UI), then a smaller scale.
 */
export async function fitPng(context, png, maxBytes) {
  if (png.length <= maxBytes) return png;
  const ladder = [
    [1, 64],
    [1, 32],
    [0.85, 32],
    [0.8, 32],
    [0.75, 32],
    [0.7, 32],
    [0.7, 16],
    [0.6, 16],
    [0.5, 16],
  ];
  const page = await context.newPage();
  try {
    for (const [scale, levels] of ladder) {
      const b64 = await page.evaluate(
        async ({ src, scale, levels }) => {
          const img = new Image();
          img.src = src;
          await img.decode();
          const c = document.createElement("canvas");
          c.width = Math.round(img.naturalWidth * scale);
          c.height = Math.round(img.naturalHeight * scale);
          const ctx = c.getContext("2d");
          ctx.imageSmoothingQuality = "high";
          ctx.drawImage(img, 0, 0, c.width, c.height);
          const d = ctx.getImageData(0, 0, c.width, c.height);
          const q = 256 / levels;
          for (let i = 0; i < d.data.length; i++) if (i % 4 !== 3) d.data[i] = Math.min(255, Math.floor(d.data[i] / q) * q + q / 2);
          ctx.putImageData(d, 0, 0);
          return c.toDataURL("image/png").split(",")[1];
        },
        { src: `data:image/png;base64,${png.toString("base64")}`, scale, levels },
      );
      const out = Buffer.from(b64, "base64");
      if (out.length <= maxBytes) return out;
    }
    throw new Error(`could not shrink the screenshot under ${maxBytes} bytes`);
  } finally {
    await page.close();
  }
}

/** Does the service itself serve the built client at `/`? */
export async function servesClient(base) {
  try {
    const res = await fetch(`${base}/`);
    const html = await res.text();
    return res.ok && html.includes('id="root"');
  } catch {
    return false;
  }
}

const API_PREFIXES = ["/search", "/image", "/thumb", "/atlas", "/info", "/healthz", "/libraries", "/jobs", "/generated", "/stories", "/storyboards", "/docs", "/openapi.json"];
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png", ".json": "application/json" };

/**
 * Until the service mounts client/dist: serve dist/ here and proxy the API paths
 * to `apiBase` (what `vite preview` with the dev proxy would do).
 */
export async function startClientProxy(apiBase) {
  const dist = join(CLIENT, "dist");
  const api = new URL(apiBase);
  const srv = createHttpServer((req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    if (API_PREFIXES.some((p) => path === p || path.startsWith(p + "/") || (p === "/image" && path.startsWith("/images")))) {
      const up = httpRequest(
        { host: api.hostname, port: api.port, method: req.method, path: req.url, headers: { ...req.headers, host: api.host } },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      up.on("error", () => {
        res.writeHead(502, { "Content-Type": "text/plain" });
        res.end("upstream down");
      });
      req.pipe(up);
      return;
    }
    let file = normalize(join(dist, path === "/" ? "index.html" : path));
    if (!file.startsWith(dist) || !existsSync(file) || !statSync(file).isFile()) file = join(dist, "index.html");
    res.writeHead(200, { "Content-Type": TYPES[extname(file)] ?? "application/octet-stream" });
    createReadStream(file).pipe(res);
  });
  const port = await freePort();
  await new Promise((r) => srv.listen(port, "127.0.0.1", r));
  return { base: `http://127.0.0.1:${port}`, stop: () => new Promise((r) => srv.close(r)) };
}
