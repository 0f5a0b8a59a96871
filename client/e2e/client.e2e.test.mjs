// End to end in a real browser: Debian's Chromium + playwright-core against the
// real Clippy service (tiny random-weight model, fixture library, tiny SDXL).
// Run: npm run test:e2e   (see client/README.md for the knobs)
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { inflateSync } from "node:zlib";
import { ARTIFACTS, ensureBuilt, fitPng, launch, log, REPO, servesClient, startClientProxy, startServer } from "./harness.mjs";

const README_SHOT = join(REPO, "assets", "screenshot-client.png");
const MAX_README_SHOT = 300 * 1024;

let server;
let app; // where the browser loads the client: the service itself, or the harness's stand-in
let servedByService = false;
let proxy = null;
let browser;
let page;
const searches = []; // request bodies of POST /search/hybrid, in order
const answers = []; // their responses, in order
const pageErrors = [];
const atlasPosts = []; // {ids} of each POST /atlas from the main page, in order
const atlasPageGets = []; // GET /atlas/<token>/<page> URLs
const thumbGets = []; // ids of GET /thumb/{id}

async function shot(p, name) {
  const file = join(ARTIFACTS, name);
  await p.screenshot({ path: file });
  return file;
}

/** Draw with the mouse on the Fabric canvas: a circle, a line and a zig-zag. */
async function drawStrokes(p) {
  const canvas = p.getByTestId("sketch-canvas");
  await canvas.waitFor();
  const box = await canvas.boundingBox();
  assert.ok(box && box.width > 100, "the sketch canvas is on screen");
  const at = (fx, fy) => [box.x + fx * box.width, box.y + fy * box.height];
  const circle = Array.from({ length: 25 }, (_, i) => {
    const a = (i / 24) * Math.PI * 2;
    return at(0.5 + 0.28 * Math.cos(a), 0.45 + 0.28 * Math.sin(a));
  });
  const line = [at(0.15, 0.85), at(0.5, 0.8), at(0.85, 0.85)];
  const zig = [at(0.3, 0.15), at(0.4, 0.25), at(0.5, 0.15), at(0.6, 0.25), at(0.7, 0.15)];
  for (const stroke of [circle, line, zig]) {
    const [first, ...rest] = stroke;
    await p.mouse.move(...first);
    await p.mouse.down();
    for (const pt of rest) await p.mouse.move(...pt, { steps: 3 });
    await p.mouse.up();
  }
}

/**
 * The first `n` result thumbnails have loaded real pixels, whether a card draws its sprite
 * from the page's atlas (a CSS background from a decoded page image) or its own <img>.
 * Returns each one's natural width (the atlas page's, for a sprite).
 */
async function thumbsLoaded(p, n = 4) {
  await p.waitForFunction(
    (n) => {
      const cards = [...document.querySelectorAll("[data-testid=result]")].slice(0, n);
      return (
        cards.length > 0 &&
        cards.every((card) => {
          const sprite = card.querySelector("[data-atlas-sprite]");
          if (sprite) return /^url\(/.test(getComputedStyle(sprite).backgroundImage) && sprite.getBoundingClientRect().height > 0;
          const img = card.querySelector("img");
          return Boolean(img && img.complete && img.naturalWidth > 0);
        })
      );
    },
    n,
    { timeout: 30_000 },
  );
  return p.evaluate(async () => {
    const cards = [...document.querySelectorAll("[data-testid=result]")].slice(0, 4);
    return Promise.all(
      cards.map(async (card) => {
        const sprite = card.querySelector("[data-atlas-sprite]");
        if (!sprite) return card.querySelector("img")?.naturalWidth ?? 0;
        const url = /^url\("?(.*?)"?\)$/.exec(getComputedStyle(sprite).backgroundImage)?.[1];
        const img = new Image();
        img.src = url ?? "";
        await img.decode().catch(() => {});
        return img.naturalWidth;
      }),
    );
  });
}

/** What each result card shows: its sprite (with the page image it comes from) or its own <img>. */
function cardThumbs(p) {
  return p.evaluate(() =>
    [...document.querySelectorAll("[data-testid=result]")].map((card) => {
      const sprite = card.querySelector("[data-atlas-sprite]");
      return {
        id: card.getAttribute("data-id"),
        sprite: sprite ? (/^url\("?(.*?)"?\)$/.exec(getComputedStyle(sprite).backgroundImage)?.[1] ?? null) : null,
        label: sprite?.getAttribute("aria-label") ?? null,
        role: sprite?.getAttribute("role") ?? null,
        img: card.querySelector("img")?.getAttribute("src") ?? null,
      };
    }),
  );
}

/** A 1-bit or 8-bit greyscale PNG (what the client sends as `mask`, filter type 0): size and a pixel reader (0/255). */
function readGreyPng(dataUrl) {
  const prefix = "data:image/png;base64,";
  assert.ok(dataUrl.startsWith(prefix), `a PNG data URL, got ${dataUrl.slice(0, 40)}…`);
  const buf = Buffer.from(dataUrl.slice(prefix.length), "base64");
  let o = 8;
  let width = 0;
  let height = 0;
  let depth = 0;
  const idat = [];
  while (o < buf.length) {
    const len = buf.readUInt32BE(o);
    const type = buf.toString("latin1", o + 4, o + 8);
    const data = buf.subarray(o + 8, o + 8 + len);
    if (type === "IHDR") {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      depth = data[8];
      assert.equal(data[9], 0, "a greyscale PNG");
    }
    if (type === "IDAT") idat.push(data);
    o += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = Math.ceil((width * depth) / 8) + 1;
  const at = (fx, fy) => {
    const x = Math.min(width - 1, Math.floor(fx * width));
    const y = Math.min(height - 1, Math.floor(fy * height));
    if (depth === 8) return raw[y * stride + 1 + x];
    return raw[y * stride + 1 + (x >> 3)] & (0x80 >> (x & 7)) ? 255 : 0;
  };
  return { width, height, at };
}

function lastAnswer() {
  return answers[answers.length - 1];
}

describe("Clippy client against the real service", { timeout: 900_000 }, () => {
  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    ensureBuilt();
    server = await startServer();
    servedByService = await servesClient(server.base);
    if (servedByService) {
      app = server.base;
    } else {
      proxy = await startClientProxy(server.base);
      app = proxy.base;
      log(`the service does not serve client/dist at / yet: serving it from ${app}, API proxied to ${server.base}`);
    }
    browser = await launch({ width: 1280, height: 800 });
    page = await browser.context.newPage();
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    page.on("console", (m) => m.type() === "error" && log("browser console:", m.text()));
    page.on("request", (r) => {
      if (r.method() === "POST" && r.url().endsWith("/search/hybrid")) searches.push(r.postDataJSON());
      const path = new URL(r.url()).pathname;
      if (r.method() === "POST" && path === "/atlas") atlasPosts.push({ ids: r.postDataJSON()?.ids ?? [] });
      else if (r.method() === "GET" && path.startsWith("/atlas/")) atlasPageGets.push(path);
      else if (r.method() === "GET" && path.startsWith("/thumb/")) thumbGets.push(decodeURIComponent(path.slice("/thumb/".length)));
    });
    page.on("response", async (r) => {
      if (r.request().method() === "POST" && r.url().endsWith("/search/hybrid")) {
        try {
          answers.push({ body: r.request().postDataJSON(), status: r.status(), json: await r.json() });
        } catch {
          answers.push({ body: r.request().postDataJSON(), status: r.status(), json: null });
        }
      }
    });
    await page.goto(app + "/");
    await page.getByRole("heading", { name: "Clippy" }).waitFor();
  });

  after(async () => {
    await browser?.close();
    await proxy?.stop();
    await server?.stop();
    writeFileSync(join(ARTIFACTS, "searches.json"), JSON.stringify(searches.map((s) => ({ ...s, sketch: s.sketch ? `<${s.sketch.length} chars>` : null, image: s.image ? `<${s.image.length} chars>` : null })), null, 2));
  });

  it("the service serves the built client at /", (t) => {
    // The real service must serve the build itself (one process, one port); only the mock
    // API leaves it to the harness's proxy.
    if (server.kind === "real") assert.ok(servedByService, "FastAPI serves client/dist at /");
    else if (!servedByService) t.todo("the mock API does not serve client/dist; the harness proxied it");
  });

  it("shows the library and model from /info", async () => {
    await page.getByText(/\d+ images/).waitFor({ timeout: 20_000 });
  });

  it("draw strokes → a sketch search runs by itself and the result images load", { timeout: 120_000 }, async () => {
    const before = searches.length;
    await drawStrokes(page);
    await page.getByTestId("result").first().waitFor({ timeout: 60_000 });
    const widths = await thumbsLoaded(page);
    assert.ok(widths.every((w) => w > 0), `thumbnails have pixels: ${widths}`);
    const sent = searches.slice(before);
    assert.ok(sent.length >= 1, "a search was sent after drawing");
    const body = sent[sent.length - 1];
    assert.match(body.sketch ?? "", /^data:image\/png;base64,/, "the sketch travels as a PNG data URL");
    // The starting weights are the server's defaults (/info): the test service has random CLIP
    // weights, so `edge` gets 0 there and `shape` (no model) carries the sketch.
    assert.ok(body.wShape > 0, "the shape view is weighed for a sketch");
    assert.equal(body.wEdge, 0, "no weight on the edge view of a random-weight model");
    // Debounced: three strokes must not cost three searches each.
    assert.ok(sent.length <= 3, `debounced: ${sent.length} searches for 3 strokes`);
    // Score bars are drawn for every hit.
    const bars = await page.locator("[data-testid=result] [role=img]").count();
    assert.ok(bars >= 1, "each hit shows its score bars");
    await shot(page, "01-sketch-results.png");
  });

  it("the first page of results is drawn from one sprite atlas: one request for the page, not one per thumbnail", { timeout: 60_000 }, async () => {
    const a = lastAnswer();
    assert.ok(a?.json?.hits?.length, "the sketch search answered");
    const hitIds = a.json.hits.map((h) => h.id);
    // Cards switch to their sprite once the atlas page has decoded.
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=result] [data-atlas-sprite]").length > 0, null, { timeout: 30_000 });
    const cards = await cardThumbs(page);
    const sprites = cards.filter((c) => c.sprite);
    log(`atlas: ${atlasPosts.length} POST /atlas, ${atlasPageGets.length} page GETs, ${thumbGets.length} /thumb GETs; ${sprites.length}/${cards.length} cards are sprites`);
    // At most one atlas per page of results asked for (each answer is a page; the sketch may
    // have searched up to 3 times and a short first page may already have pulled the next).
    const pagesAnswered = answers.filter((x) => x.status === 200 && x.json?.hits?.length).length;
    assert.ok(atlasPosts.length >= 1, "the grid asked for an atlas");
    assert.ok(atlasPosts.length <= pagesAnswered, `at most one atlas per page: ${atlasPosts.length} for ${pagesAnswered} pages`);
    const mine = atlasPosts.find((x) => x.ids.length === hitIds.length && hitIds.every((id) => x.ids.includes(id)));
    assert.ok(mine, "one request carries the whole page's ids (not one per card)");
    // Sprites come from a loaded page image, named like the thumbnail.
    assert.ok(sprites.length >= Math.min(hitIds.length, cards.length) / 2, `most cards draw a sprite: ${sprites.length} of ${cards.length}`);
    for (const c of sprites) {
      assert.match(c.sprite, /^(blob:|\/atlas\/)/, "a sprite's image is the fetched atlas page");
      assert.equal(c.role, "img");
      assert.ok(c.label, "a sprite has the thumbnail's alt text as its label");
    }
    assert.ok(new Set(sprites.map((c) => c.sprite)).size <= atlasPageGets.length, "each atlas page image was fetched once for all its cards");
    const widths = await thumbsLoaded(page, Math.min(8, cards.length));
    assert.ok(widths.every((w) => w > 0), `sprites have pixels: ${widths}`);
    // Thumbnails drawn from the atlas did not need their own /thumb/ request.
    const spriteIds = new Set(sprites.map((c) => c.id));
    const wasted = thumbGets.filter((id) => spriteIds.has(id));
    assert.ok(wasted.length <= Math.max(2, spriteIds.size / 4), `few /thumb/ requests for sprite cards: ${wasted.length} of ${spriteIds.size}`);
    await shot(page, "01b-atlas-sprites.png");
  });

  it("move a slider → a new request with the new weights; the order may change", { timeout: 120_000 }, async () => {
    const first = lastAnswer();
    assert.ok(first?.json?.hits?.length, "there are results to reorder");
    const tag = first.json.hits.find((h) => h.tags?.length)?.tags[0] ?? "cat";
    // Give the query a second view (text), so moving the shape weight can reorder.
    const prompt = page.getByRole("searchbox", { name: "Text prompt" });
    let wait = page.waitForResponse((r) => r.url().endsWith("/search/hybrid") && r.request().postDataJSON()?.queryText === tag);
    await prompt.fill(tag);
    await wait;
    await page.getByTestId("result").first().waitFor();
    const withText = lastAnswer();
    const orderBefore = withText.json.hits.map((h) => h.id);

    const slider = page.getByRole("slider", { name: "Shape weight (wShape)" });
    wait = page.waitForResponse((r) => r.url().endsWith("/search/hybrid") && r.request().postDataJSON()?.wShape === 0, { timeout: 30_000 });
    await slider.focus();
    await page.keyboard.press("Home");
    const res = await wait;
    const body = res.request().postDataJSON();
    assert.equal(body.wShape, 0);
    assert.equal(body.queryText, tag);
    // The test service's text view is the random CLIP text tower: its default is 0; tags carry the prompt.
    assert.ok(body.wTags > 0, `the other weights are sent as set: ${JSON.stringify({ ...body, sketch: undefined })}`);
    assert.equal(res.status(), 200);
    const json = await res.json();
    const orderAfter = json.hits.map((h) => h.id);
    log(`order changed after wShape → 0: ${JSON.stringify(orderBefore.slice(0, 5)) !== JSON.stringify(orderAfter.slice(0, 5))}`);
    // Whether or not it changed, the grid shows the new ranking: result N is the Nth hit.
    await page.waitForFunction((ids) => {
      const shown = new Map(
        [...document.querySelectorAll("[data-testid=result]")].map((el) => [Number(/^Result (\d+):/.exec(el.getAttribute("aria-label") ?? "")?.[1]), el.getAttribute("data-id")]),
      );
      return ids.every((id, i) => shown.get(i + 1) === id);
    }, orderAfter, { timeout: 20_000 });
    if (json.weights) assert.ok(!json.weights.shape, `the server used no shape weight: ${JSON.stringify(json.weights)}`);
    await page.waitForFunction(() => document.querySelector("[data-testid=results-summary]")?.textContent?.includes("results"));
    await thumbsLoaded(page);
    await shot(page, "02-after-slider.png");

    // A preset puts the weights back.
    wait = page.waitForResponse((r) => r.url().endsWith("/search/hybrid") && r.request().postDataJSON()?.wShape > 0);
    await page.getByRole("button", { name: "Balanced" }).click();
    await wait;
  });

  it("infinite scroll follows nextCursor", { timeout: 60_000 }, async () => {
    await page.waitForFunction(() => document.querySelector("[data-testid=results-summary]")?.textContent?.includes("results"));
    const firstPages = answers.filter((a) => !a.body?.cursor);
    const a = firstPages[firstPages.length - 1];
    if (!a?.json?.nextCursor) {
      log("only one page of results for this library: skipping the scroll check");
      return;
    }
    const sentAlready = () => searches.some((s) => s.cursor === a.json.nextCursor);
    if (!sentAlready()) {
      // (A short first page already asks for the next one when the end of the list is in view.)
      const wait = page.waitForRequest((r) => r.url().endsWith("/search/hybrid") && r.postDataJSON()?.cursor === a.json.nextCursor, { timeout: 30_000 });
      await page.locator("section[aria-label=Results]").evaluate((el) => el.scrollTo(0, el.scrollHeight));
      await wait;
    }
    const more = a.json.hits.length;
    await page.waitForFunction((n) => document.querySelectorAll("[data-testid=result]").length > n, more, { timeout: 30_000 });
    const page2 = searches.find((s) => s.cursor === a.json.nextCursor);
    assert.equal(page2.queryText, a.body.queryText, "the next page asks the same question");
    assert.equal(page2.wEdge, a.body.wEdge);
    await page.locator("section[aria-label=Results]").evaluate((el) => el.scrollTo(0, 0));
  });

  it("click a result → the lightbox shows the original with its tags", { timeout: 60_000 }, async () => {
    await page.locator("[data-testid=result]").first().locator("button").first().click();
    const box = page.getByTestId("lightbox");
    await box.waitFor();
    await page.waitForFunction(() => {
      const img = document.querySelector("[data-testid=lightbox] img");
      return img && img.complete && img.naturalWidth > 0;
    });
    await shot(page, "03-lightbox.png");
    await page.keyboard.press("Escape");
    await box.waitFor({ state: "detached" });
  });

  it("more like this → the next request carries positiveIds", { timeout: 60_000 }, async () => {
    const card = page.locator("[data-testid=result]").first();
    const id = await card.getAttribute("data-id");
    const wait = page.waitForRequest((r) => r.url().endsWith("/search/hybrid") && (r.postDataJSON()?.positiveIds ?? []).includes(id));
    await card.hover();
    await card.getByRole("button", { name: "More like this" }).click();
    await wait;
    await page.getByTestId("result").first().waitFor();
    // and back
    const back = page.waitForRequest((r) => r.url().endsWith("/search/hybrid") && (r.postDataJSON()?.positiveIds ?? []).length === 0);
    await page.getByRole("button", { name: `Remove positive example ${id}` }).click();
    await back;
  });

  it("two results as style + subject references → generate → the job's image appears", { timeout: 600_000 }, async () => {
    await page.getByTestId("result").nth(1).waitFor();
    const cards = page.locator("[data-testid=result]");
    for (const i of [0, 1]) {
      const card = cards.nth(i);
      await card.hover();
      await card.getByRole("button", { name: "Use as reference" }).click();
    }
    await page.getByRole("tab", { name: /Generate/ }).click();
    const refs = page.getByTestId("ref");
    await refs.nth(1).waitFor();
    assert.deepEqual(await refs.evaluateAll((els) => els.map((e) => e.getAttribute("data-role"))), ["style", "subject"]);

    await page.getByLabel("Prompt", { exact: true }).fill("a tiny test picture");
    await page.getByLabel("Steps", { exact: true }).fill(process.env.CLIPPY_E2E_STEPS ?? "2");
    await page.getByLabel("Seed", { exact: true }).fill("7");
    // The tiny SDXL allows at most 256 px a side (SDXL_MAX_SIDE).
    await page.getByLabel("Size", { exact: true }).selectOption(process.env.CLIPPY_E2E_SIZE ?? "256x256");
    const posted = page.waitForRequest((r) => r.url().endsWith("/images/generate"));
    await page.getByRole("button", { name: "Generate image" }).click();
    const req = await posted;
    const body = req.postDataJSON();
    assert.equal(body.refs.length, 2);
    assert.deepEqual(body.refs.map((r) => r.role), ["style", "subject"]);
    assert.ok(body.refs.every((r) => typeof r.id === "string" && r.weight > 0), "library refs go by id with a weight");
    assert.ok(req.headers()["idempotency-key"], "an Idempotency-Key is sent");
    assert.equal(body.steps, Number(process.env.CLIPPY_E2E_STEPS ?? 2));

    const job = page.getByTestId("job").first();
    await job.waitFor();
    const seen = new Set();
    const deadline = Date.now() + 540_000;
    let status = "";
    while (Date.now() < deadline) {
      status = (await job.getAttribute("data-status")) ?? "";
      seen.add(status);
      if (["succeeded", "failed", "cancelled"].includes(status)) break;
      await page.waitForTimeout(250);
    }
    const said = await job.getByTestId("job-status").textContent();
    log(`job states seen: ${[...seen].join(" → ")}; last: ${said}`);
    await shot(page, "04-generated.png");
    assert.equal(status, "succeeded", `the job ended ${status}: ${said}`);
    await page.waitForFunction(() => {
      const img = document.querySelector("[data-testid=generated-image]");
      return img && img.complete && img.naturalWidth > 0;
    });
    // Show the finished job in the README picture.
    await page.locator("aside[aria-label='Settings and generation']").evaluate((el) => el.scrollTo(0, el.scrollHeight));
    await page.locator("section[aria-label=Results]").evaluate((el) => el.scrollTo(0, 0));
    await page.mouse.move(5, 5);
    await page.waitForTimeout(300);
    const png = await page.screenshot();
    writeFileSync(join(ARTIFACTS, "04-generated.png"), png);
    const small = await fitPng(browser.context, png, MAX_README_SHOT);
    writeFileSync(join(ARTIFACTS, "screenshot-client.png"), small);
    // The README's picture is refreshed only on request, so a test run leaves the tree clean.
    if (process.env.UPDATE_README_SHOT === "1") {
      copyFileSync(join(ARTIFACTS, "screenshot-client.png"), README_SHOT);
      log(`README screenshot: ${README_SHOT} (${Math.round(small.length / 1024)} KB)`);
    }
  });

  it("the generated image can be the next query", { timeout: 60_000 }, async () => {
    const wait = page.waitForRequest((r) => r.url().endsWith("/search/hybrid") && typeof r.postDataJSON()?.image === "string");
    await page.getByRole("button", { name: "Search by it" }).first().click();
    await page.getByTestId("example-image").waitFor();
    await wait;
  });

  it("RAG: decompose → editable chips → complementary refs with a coverage matrix → grounded generation with attribution", { timeout: 300_000 }, async (t) => {
    const spec = await fetch(`${server.base}/openapi.json`).then((r) => r.json()).catch(() => ({ paths: {} }));
    const hasRag = Boolean(spec.paths?.["/search/decompose"] && spec.paths?.["/search/complementary"]);
    if (server.kind === "real") assert.ok(hasRag, "the service offers /search/decompose and /search/complementary");
    else if (!hasRag) {
      t.todo("the mock API lacks POST /search/decompose or /search/complementary");
      return;
    }
    await page.getByRole("tab", { name: "RAG" }).click();
    const panel = page.getByTestId("rag-panel");
    await panel.getByLabel("RAG prompt").fill("a watercolor painting of a cat and a rocket in space at night");
    let res = page.waitForResponse((r) => r.url().endsWith("/search/decompose"));
    await panel.getByRole("button", { name: "Decompose" }).click();
    assert.equal((await res).status(), 200);
    const chips = panel.getByTestId("subquery-chip");
    await chips.first().waitFor();
    const decomposed = await chips.evaluateAll((els) => els.map((e) => ({ id: e.dataset.id, kind: e.dataset.kind })));
    log(`decomposed into ${JSON.stringify(decomposed)}`);
    assert.ok(decomposed.length >= 3, `the prompt splits into parts: ${decomposed.length}`);
    assert.ok(decomposed.some((c) => c.kind === "style"), "watercolor painting is a style part");

    // Edit the chips: remove the last, add one, rename one, change a kind.
    const texts = await chips.evaluateAll((els) => els.map((e) => e.querySelector("button[aria-label^='Edit']")?.textContent ?? ""));
    const last = texts[texts.length - 1];
    await panel.getByRole("button", { name: `Remove sub-query “${last}”` }).click();
    await panel.getByLabel("Kind of the new sub-query").selectOption("object");
    await panel.getByLabel("Add a sub-query").fill("owl");
    await panel.getByLabel("Add a sub-query").press("Enter");
    await panel.getByRole("button", { name: `Edit sub-query “${texts[1]}”` }).click();
    await panel.getByLabel("Sub-query 2 text").fill(`${texts[1]} on a sofa`);
    await panel.getByLabel("Sub-query 2 text").press("Enter");
    await panel.getByRole("button", { name: "Kind of “owl”: object. Change to style" }).click();
    const edited = await chips.evaluateAll((els) => els.map((e) => e.querySelector("button[aria-label^='Edit']")?.textContent));
    assert.deepEqual(edited, [texts[0], `${texts[1]} on a sofa`, ...texts.slice(2, -1), "owl"]);

    const posted = page.waitForRequest((r) => r.url().endsWith("/search/complementary"));
    res = page.waitForResponse((r) => r.url().endsWith("/search/complementary"));
    await panel.getByRole("button", { name: "Find complementary refs" }).click();
    const body = (await posted).postDataJSON();
    assert.deepEqual(body.subQueries.map((q) => q.text), edited, "the edited chips are what is asked");
    assert.equal(body.subQueries.at(-1).kind, "style");
    assert.equal((await res).status(), 200);
    const matrix = panel.getByTestId("coverage-matrix");
    await matrix.waitFor();
    const rows = matrix.getByTestId("complementary-ref");
    const nRefs = await rows.count();
    assert.ok(nRefs >= 1 && nRefs <= 4, `1–4 complementary refs: ${nRefs}`);
    assert.equal(await rows.first().locator("td").count(), edited.length, "a cell per sub-query");
    assert.equal(await matrix.locator("thead th").count(), edited.length + 1);
    await page.waitForFunction(() => {
      const imgs = [...document.querySelectorAll("[data-testid=coverage-matrix] img")];
      return imgs.length > 0 && imgs.every((i) => i.complete && i.naturalWidth > 0);
    });
    const shades = await matrix.locator("td").evaluateAll((tds) => new Set(tds.map((td) => getComputedStyle(td).backgroundColor)).size);
    assert.ok(shades >= 2, `cells are shaded by strength (${shades} shades)`);
    await page.locator("aside[aria-label='Settings and generation']").evaluate((el) => el.scrollTo(0, 0));
    await shot(page, "08-rag-matrix.png");

    // Grounded generation with the tiny SDXL.
    await panel.getByLabel("Grounded size").selectOption(process.env.CLIPPY_E2E_SIZE ?? "256x256");
    await panel.getByLabel("Grounded steps").fill(process.env.CLIPPY_E2E_STEPS ?? "2");
    await panel.getByLabel("Grounded seed").fill("3");
    const gen = page.waitForRequest((r) => r.url().endsWith("/images/generate"));
    await panel.getByRole("button", { name: "Generate grounded" }).click();
    const g = (await gen).postDataJSON();
    assert.equal(g.grounding, true);
    assert.deepEqual(g.refs, []);
    assert.equal(g.complementary.refs.length, nRefs);
    assert.deepEqual(g.complementary.subQueries.map((q) => q.text), edited);
    const job = panel.getByTestId("rag-job").first();
    await job.waitFor();
    const deadline = Date.now() + 240_000;
    let status = "";
    while (Date.now() < deadline) {
      status = (await job.getAttribute("data-status")) ?? "";
      if (["succeeded", "failed", "cancelled"].includes(status)) break;
      await page.waitForTimeout(250);
    }
    const said = await job.getByTestId("rag-job-status").textContent();
    assert.equal(status, "succeeded", `the grounded job ended ${status}: ${said}`);
    await page.waitForFunction(() => {
      const img = document.querySelector("[data-testid=rag-generated-image]");
      return img && img.complete && img.naturalWidth > 0;
    });
    const attribution = job.getByTestId("attribution-row");
    assert.equal(await attribution.count(), edited.length, "an attribution row per sub-query");
    const refIds = await attribution.evaluateAll((els) => els.map((e) => e.dataset.ref));
    const matrixIds = await rows.evaluateAll((els) => els.map((e) => e.dataset.id));
    assert.ok(refIds.some((id) => matrixIds.includes(id)), "parts are attributed to the chosen refs");
    await job.scrollIntoViewIfNeeded();
    await shot(page, "09-rag-grounded.png");
    await page.getByRole("tab", { name: "Search" }).click();
  });

  it("Edit this image from a hit → paint a mask stroke → Generate: the request carries the base, the mask and the strength", { timeout: 600_000 }, async (t) => {
    const card = page.locator("[data-testid=result]").first();
    await card.waitFor();
    const id = await card.getAttribute("data-id");
    await card.hover();
    await card.getByRole("button", { name: "Edit this image" }).click();
    const editor = page.getByTestId("mask-editor");
    await editor.waitFor();
    assert.equal(await page.getByTestId("sketch-canvas").isVisible(), false, "the mask layer stands in for the sketch canvas");
    // The base is the hit's original; the mask layer takes its aspect.
    await page.waitForFunction(() => {
      const img = document.querySelector("[data-testid=mask-editor] img");
      return img && img.complete && img.naturalWidth > 0;
    });
    const base = await editor.locator("img").first().evaluate((img) => ({ width: img.naturalWidth, height: img.naturalHeight }));
    const mask = page.getByTestId("mask-canvas");
    await mask.waitFor();
    const box = await mask.boundingBox();
    assert.ok(box && box.width > 100, "the mask canvas is on screen");
    assert.ok(Math.abs(box.width / box.height - base.width / base.height) < 0.03, `the mask canvas has the base's aspect (${box.width}×${box.height} vs ${base.width}×${base.height})`);

    const controls = page.getByTestId("edit-controls");
    await controls.waitFor();
    assert.equal(await controls.getAttribute("data-mask"), "none");
    assert.equal(await page.getByTestId("strength-value").textContent(), "0.30", "strength starts at 0.3");
    assert.match(await controls.textContent(), /0\.2–0\.35 keeps a subject's identity/);

    // One horizontal stroke across the middle.
    const at = (fx, fy) => [box.x + fx * box.width, box.y + fy * box.height];
    await page.mouse.move(...at(0.3, 0.5));
    await page.mouse.down();
    for (const fx of [0.4, 0.5, 0.6, 0.7]) await page.mouse.move(...at(fx, 0.5), { steps: 3 });
    await page.mouse.up();
    await page.waitForFunction(() => document.querySelector("[data-testid=edit-controls]")?.getAttribute("data-mask") === "painted");
    assert.match(await page.getByTestId("strength-value").textContent(), /default/, "with a mask the strength is the server's inpainting default");

    await page.getByLabel("Edit mode", { exact: true }).selectOption("inpaint-insert");
    await page.getByLabel("Prompt", { exact: true }).fill("a tiny edited picture");
    await page.getByLabel("Steps", { exact: true }).fill(process.env.CLIPPY_E2E_STEPS ?? "2");
    await page.getByLabel("Seed", { exact: true }).fill("7");
    assert.equal(await page.getByLabel("Size", { exact: true }).isDisabled(), true, "an edit keeps the base's aspect: no size to pick");
    const jobsBefore = await page.getByTestId("job").count();
    const posted = page.waitForRequest((r) => r.url().endsWith("/images/generate"));
    await page.getByRole("button", { name: "Generate image" }).click();
    const body = (await posted).postDataJSON();
    await shot(page, "10-edit-mask.png");
    assert.deepEqual(body.baseImage, { id }, "a library base goes by its id");
    assert.equal(body.strength, undefined, "with a mask and the slider untouched, the server's inpainting strength applies");
    assert.equal(body.editMode, "inpaint-insert");
    assert.equal(body.width, undefined, "an edit takes the base's aspect: no size is sent");
    assert.equal(body.sketch, null, "the hidden sketch is not sent with an edit");
    const png = readGreyPng(body.mask);
    assert.ok(Math.abs(png.width / png.height - base.width / base.height) < 0.02, `the mask (${png.width}×${png.height}) has the base's aspect (${base.width}×${base.height})`);
    assert.ok(Math.max(png.width, png.height) <= 768, "the mask's size is bounded");
    assert.equal(png.at(0.5, 0.5), 255, "white where painted");
    assert.equal(png.at(0.4, 0.5), 255, "white along the stroke");
    assert.equal(png.at(0.05, 0.05), 0, "black elsewhere");
    assert.equal(png.at(0.5, 0.9), 0, "black below the stroke");

    // The job: the server's edit fields decide whether it can run (the `edit` branch adds them).
    const spec = await fetch(`${server.base}/openapi.json`).then((r) => r.json()).catch(() => ({}));
    const serverEdits = Boolean(spec.components?.schemas?.GenerateRequest?.properties?.baseImage);
    await page.waitForFunction((n) => document.querySelectorAll("[data-testid=job]").length > n, jobsBefore);
    const job = page.getByTestId("job").first();
    if (serverEdits) {
      await page.waitForFunction(
        () => ["succeeded", "failed", "cancelled"].includes(document.querySelector("[data-testid=job]")?.getAttribute("data-status") ?? ""),
        null,
        { timeout: 540_000 },
      );
      const said = await job.getByTestId("job-status").textContent();
      assert.equal(await job.getAttribute("data-status"), "succeeded", `the edit job ended: ${said}`);
      await page.waitForFunction(() => {
        const img = document.querySelector("[data-testid=job] [data-testid=generated-image]");
        return img && img.complete && img.naturalWidth > 0;
      });
      await shot(page, "11-edit-result.png");
    } else {
      t.diagnostic("this server's GenerateRequest has no baseImage yet: the request was checked, the job's outcome is not");
    }

    // Erase over the whole stroke → no mask; clear and undo work on the layer.
    await page.getByRole("button", { name: "Erase mask" }).click();
    await page.getByRole("slider", { name: "Mask brush size" }).focus();
    await page.keyboard.press("End"); // the widest brush
    await page.mouse.move(...at(0.2, 0.5));
    await page.mouse.down();
    for (const fx of [0.35, 0.5, 0.65, 0.8]) await page.mouse.move(...at(fx, 0.5), { steps: 3 });
    await page.mouse.up();
    await page.waitForFunction(() => document.querySelector("[data-testid=edit-controls]")?.getAttribute("data-mask") === "none");
    await page.getByRole("button", { name: "Undo mask stroke" }).click();
    await page.waitForFunction(() => document.querySelector("[data-testid=edit-controls]")?.getAttribute("data-mask") === "painted");
    await page.getByRole("button", { name: "Clear mask" }).click();
    await page.waitForFunction(() => document.querySelector("[data-testid=edit-controls]")?.getAttribute("data-mask") === "none");
    // Without a mask the request is img2img: the base and strength, no mask.
    // Only what is sent matters here: the request is stopped, so no second job loads the machine.
    const stop = (route) => route.abort();
    await page.route("**/images/generate", stop);
    const plain = page.waitForRequest((r) => r.url().endsWith("/images/generate"));
    await page.getByRole("button", { name: "Generate image" }).click();
    const img2img = (await plain).postDataJSON();
    await page.unroute("**/images/generate", stop);
    assert.deepEqual(img2img.baseImage, { id });
    assert.equal(img2img.strength, 0.3);
    // The slider moves the strength sent (arrow keys: one 0.05 step).
    await page.getByRole("slider", { name: "Strength" }).focus();
    await page.keyboard.press("ArrowLeft");
    assert.equal(await page.getByTestId("strength-value").textContent(), "0.25reset");
    await page.route("**/images/generate", stop);
    const moved = page.waitForRequest((r) => r.url().endsWith("/images/generate"));
    await page.getByRole("button", { name: "Generate image" }).click();
    assert.equal((await moved).postDataJSON().strength, 0.25);
    await page.unroute("**/images/generate", stop);
    assert.equal(img2img.mask ?? null, null);

    await page.getByRole("button", { name: "Leave edit mode" }).first().click();
    await editor.waitFor({ state: "detached" });
    await page.getByTestId("sketch-canvas").waitFor({ state: "visible" });
    assert.equal(await page.getByTestId("edit-controls").count(), 0);
    await page.getByRole("tab", { name: "Search" }).click();
  });

  it("Library tab: the grid lists the images; an import of 2 PNGs (and a broken file) shows progress and failures and grows the grid; delete asks first; duplicates", { timeout: 180_000 }, async () => {
    const p = await browser.context.newPage();
    p.on("pageerror", (e) => pageErrors.push(String(e)));
    try {
      await p.goto(app + "/");
      await p.getByRole("tab", { name: "Library" }).click();
      const items = p.getByTestId("library-item");
      await items.first().waitFor({ timeout: 30_000 });
      await p.waitForFunction(() => {
        const imgs = [...document.querySelectorAll("[data-testid=library-item] img")].slice(0, 6);
        return imgs.length > 0 && imgs.every((i) => i.complete && i.naturalWidth > 0);
      }, null, { timeout: 30_000 });
      const count = async () => Number.parseInt((await p.getByTestId("library-count").textContent()) ?? "", 10);
      const total0 = await count();
      const shown0 = await items.count();
      assert.ok(total0 > 0 && shown0 > 0, `the library lists images: ${shown0} of ${total0}`);

      await p.getByRole("button", { name: "Import", exact: true }).click();
      const dialog = p.getByTestId("import-dialog");
      await dialog.waitFor();
      const pngOf = (color) =>
        p.evaluate(async (color) => {
          const c = document.createElement("canvas");
          c.width = 96;
          c.height = 64;
          const ctx = c.getContext("2d");
          ctx.fillStyle = color;
          ctx.fillRect(0, 0, 96, 64);
          ctx.fillStyle = "#fff";
          ctx.fillRect(20, 16, 40, 24);
          return c.toDataURL("image/png").split(",")[1];
        }, color);
      // The library is the user's choice (the dialog only defaults to a listed one).
      await dialog.getByLabel("Library", { exact: true }).fill("uploads");
      await dialog.getByLabel("Tags (comma-separated)").fill("e2e, upload");
      await dialog.getByTestId("import-files").setInputFiles([
        { name: "e2e-red.png", mimeType: "image/png", buffer: Buffer.from(await pngOf("#c0392b"), "base64") },
        { name: "e2e-teal.png", mimeType: "image/png", buffer: Buffer.from(await pngOf("#16a085"), "base64") },
        { name: "e2e-broken.png", mimeType: "image/png", buffer: Buffer.from("this is not a png") },
      ]);
      assert.equal(await dialog.getByTestId("import-file-list").locator("li").count(), 3);
      const posted = p.waitForRequest((r) => r.method() === "POST" && /\/libraries\/[^/]+\/imports$/.test(r.url()));
      await dialog.getByRole("button", { name: "Start import" }).click();
      const req = await posted;
      assert.match(req.headers()["content-type"] ?? "", /^multipart\/form-data/);
      assert.ok(req.url().endsWith("/libraries/uploads/imports"));
      const status = dialog.getByTestId("import-status");
      await status.waitFor();
      const phases = new Set();
      const deadline = Date.now() + 120_000;
      let phase = "";
      while (Date.now() < deadline) {
        phase = (await status.getAttribute("data-phase")) ?? "";
        phases.add(phase);
        if (["succeeded", "failed", "cancelled"].includes(phase)) break;
        await p.waitForTimeout(100);
      }
      const said = await dialog.getByTestId("import-status-text").textContent();
      log(`import phases: ${[...phases].join(" → ")}; ${said}`);
      assert.equal(phase, "succeeded", said);
      assert.match(said, /2 imported/);
      assert.match(said, /1 failed/);
      assert.equal(await dialog.getByTestId("import-progress").getAttribute("aria-valuenow"), "100");
      assert.equal(await dialog.getByTestId("import-counts").textContent(), "3 / 3");
      const failures = dialog.getByTestId("import-failures").locator("li");
      assert.equal(await failures.count(), 1);
      const failure = (await failures.first().textContent()) ?? "";
      assert.match(failure, /^e2e-broken\.png — /, "the failure names the uploaded file (mapped back from the stored content hash)");
      assert.match(failure, /not a readable image/);
      await shot(p, "10-import.png");
      await dialog.getByRole("button", { name: "Close" }).first().click();
      await p.waitForFunction((n) => Number.parseInt(document.querySelector("[data-testid=library-count]")?.textContent ?? "", 10) === n, total0 + 2, { timeout: 30_000 });
      await p.waitForFunction((n) => document.querySelectorAll("[data-testid=library-item]").length > n, shown0, { timeout: 30_000 });

      // Only the uploads library; delete one after confirming.
      await p.getByLabel("Library", { exact: true }).selectOption("uploads");
      await p.waitForFunction(() => document.querySelector("[data-testid=library-count]")?.textContent?.startsWith("2 images"));
      await p.waitForFunction(() => document.querySelectorAll("[data-testid=library-item]").length === 2);
      const card = items.first();
      const id = await card.getAttribute("data-id");
      await card.hover();
      const del = p.waitForRequest((r) => r.method() === "DELETE" && r.url().endsWith(`/images/${id}`));
      await card.getByRole("button", { name: /^Delete / }).click();
      const confirm = p.getByTestId("confirm-dialog");
      await confirm.waitFor();
      await confirm.getByRole("button", { name: "Delete", exact: true }).click();
      await del;
      await p.waitForFunction(() => document.querySelector("[data-testid=library-count]")?.textContent?.startsWith("1 image"));
      assert.equal(await items.count(), 1);

      // Duplicates: a near scan runs as a job; after it nothing is ticked, each group says why
      // it is one, the random weights are called out, and deleting many needs the typed count.
      await p.getByLabel("Library", { exact: true }).selectOption("");
      await p.getByRole("tab", { name: "Duplicates" }).click();
      await p.getByTestId("duplicates-summary").waitFor({ timeout: 30_000 });
      await p.getByTestId("duplicates-random-weights").waitFor({ timeout: 15_000 });
      const scanned = p.waitForResponse((r) => r.request().method() === "POST" && new URL(r.url()).pathname === "/images/duplicates/scans");
      await p.getByTestId("duplicates-scan").click();
      assert.equal((await scanned).status(), 202);
      await p.waitForFunction(() => /near groups? at ≥/.test(document.querySelector("[data-testid=duplicates-summary]")?.textContent ?? ""), null, { timeout: 60_000 });
      const groups = p.getByTestId("duplicate-group");
      const nGroups = await groups.count();
      log(`duplicates: ${await p.getByTestId("duplicates-summary").textContent()}; ${nGroups} groups`);
      assert.ok(nGroups > 0, "the demo's random weights put unrelated pictures in near groups");
      assert.equal(await p.locator("[data-testid=duplicate-member] input[type=checkbox]:checked").count(), 0, "nothing is ticked after a scan");
      assert.ok(await p.getByTestId("duplicates-delete").isDisabled(), "nothing to delete until a person ticks something");
      for (let i = 0; i < Math.min(nGroups, 3); i++) {
        assert.equal(await groups.nth(i).locator("[data-keep]").count(), 1, "one keeper per group");
        assert.match((await groups.nth(i).getByTestId("duplicate-reason").textContent()) ?? "", /Same file content|Image similarity \d/);
      }
      await shot(p, "11-duplicates.png");
      const big = groups.filter({ has: p.locator("[data-testid=duplicate-member]:nth-child(5)") }).first();
      if ((await big.count()) > 0) {
        await big.getByRole("button", { name: "mark all but the keeper" }).click();
        const marked = await p.locator("[data-testid=duplicate-member] input[type=checkbox]:checked").count();
        assert.ok(marked >= 4, `${marked} marked`);
        await p.getByTestId("duplicates-delete").click();
        const confirm = p.getByTestId("confirm-dialog");
        await confirm.waitFor();
        const go = confirm.getByRole("button", { name: "Delete", exact: true });
        assert.ok(await go.isDisabled(), "deleting many waits for the typed count");
        await confirm.getByTestId("duplicates-confirm-count").fill(String(marked - 1));
        assert.ok(await go.isDisabled(), "a wrong count does not confirm");
        await confirm.getByTestId("duplicates-confirm-count").fill(String(marked));
        const bulk = p.waitForResponse((r) => new URL(r.url()).pathname === "/images/deletions");
        await go.click();
        const answer = await bulk;
        assert.equal(answer.status(), 200, await answer.text());
        assert.equal(answer.request().postDataJSON().confirm, marked);
        const trashItems = p.getByTestId("trash-item");
        await p.waitForFunction((n) => document.querySelectorAll("[data-testid=trash-item]").length >= n, marked, { timeout: 15_000 });
        const inTrash = await trashItems.count();
        const restored = await trashItems.first().getAttribute("data-id");
        const back = p.waitForResponse((r) => r.url().endsWith(`/images/${restored}/restore`));
        await trashItems.first().getByRole("button", { name: /^Restore / }).click();
        assert.equal((await back).status(), 200);
        await p.waitForFunction((n) => document.querySelectorAll("[data-testid=trash-item]").length === n - 1, inTrash, { timeout: 15_000 });
        await shot(p, "11b-duplicates-trash.png");
        // The rest of the bulk delete comes back too, so later scenarios see the sample library whole.
        for (const { id: gone } of (await answer.json()).deleted) {
          if (gone === restored) continue;
          const item = p.locator(`[data-testid=trash-item][data-id="${gone}"]`);
          await item.getByRole("button", { name: /^Restore / }).click();
          await item.waitFor({ state: "detached", timeout: 15_000 });
        }
      }

      // A new library through the form (POST /libraries): listed with its visibility and picked.
      await p.getByRole("tab", { name: "Browse" }).click();
      await p.getByRole("button", { name: "New library", exact: true }).click();
      const form = p.getByTestId("new-library-dialog");
      await form.waitFor();
      await form.getByLabel("Library name").fill("e2e-lib");
      await form.getByLabel("Visibility").selectOption("public");
      const created = p.waitForResponse((r) => r.request().method() === "POST" && new URL(r.url()).pathname === "/libraries");
      await form.getByRole("button", { name: "Create library" }).click();
      const made = await created;
      assert.equal(made.status(), 201, await made.text());
      assert.deepEqual(made.request().postDataJSON(), { name: "e2e-lib", visibility: "public" });
      await form.waitFor({ state: "detached" });
      const picker = p.getByLabel("Library", { exact: true });
      await p.waitForFunction((el) => el.value === "e2e-lib" && el.selectedOptions[0]?.textContent === "e2e-lib (public)", await picker.elementHandle(), { timeout: 15_000 });
      await p.waitForFunction(() => document.querySelector("[data-testid=library-count]")?.textContent?.startsWith("0 images"), null, { timeout: 15_000 });
      await shot(p, "12-new-library.png");

      // …and deleted again after confirming (DELETE /libraries/e2e-lib): gone from the picker.
      const dropped = p.waitForResponse((r) => r.request().method() === "DELETE" && r.url().endsWith("/libraries/e2e-lib"));
      await p.getByRole("button", { name: "Delete library e2e-lib" }).click();
      await p.getByTestId("confirm-dialog").getByRole("button", { name: "Delete library" }).click();
      assert.equal((await dropped).status(), 200);
      await p.waitForFunction((el) => el.value === "" && ![...el.options].some((o) => o.value === "e2e-lib"), await picker.elementHandle(), { timeout: 15_000 });
    } finally {
      await p.close();
    }
  });

  it("canvas tools: eraser, clear, undo and redo re-run the search; a dropped image becomes the example query", { timeout: 120_000 }, async () => {
    const p = await browser.context.newPage();
    try {
      const sent = [];
      p.on("request", (r) => r.method() === "POST" && r.url().endsWith("/search/hybrid") && sent.push(r.postDataJSON()));
      await p.goto(app + "/");
      // The sketch of all three strokes: the search sent after the last stroke ends (a slow
      // machine may also search between strokes, and those answers can come first).
      let strokesDone = false;
      const final = p.waitForRequest((r) => strokesDone && r.method() === "POST" && r.url().endsWith("/search/hybrid"), { timeout: 60_000 });
      await drawStrokes(p);
      strokesDone = true;
      const drawn = (await final).postDataJSON().sketch;
      await p.getByTestId("result").first().waitFor({ timeout: 60_000 });

      // Eraser (keyboard shortcut) across the circle changes the sketch that is sent.
      await p.keyboard.press("e");
      assert.equal(await p.getByRole("button", { name: "Eraser" }).getAttribute("aria-pressed"), "true");
      let wait = p.waitForRequest((r) => r.url().endsWith("/search/hybrid") && r.postDataJSON()?.sketch && r.postDataJSON().sketch !== drawn);
      const box = await p.getByTestId("sketch-canvas").boundingBox();
      await p.mouse.move(box.x + box.width * 0.1, box.y + box.height * 0.45);
      await p.mouse.down();
      await p.mouse.move(box.x + box.width * 0.9, box.y + box.height * 0.45, { steps: 12 });
      await p.mouse.up();
      const erased = (await wait).postDataJSON().sketch;
      await shot(p, "07-erased.png");

      // Undo brings the drawn sketch back; redo the erased one.
      wait = p.waitForRequest((r) => r.url().endsWith("/search/hybrid") && r.postDataJSON()?.sketch === drawn);
      await p.keyboard.press("Control+z");
      await wait;
      wait = p.waitForRequest((r) => r.url().endsWith("/search/hybrid") && r.postDataJSON()?.sketch === erased);
      await p.keyboard.press("Control+Shift+z");
      await wait;

      // Clear: nothing left to search by.
      await p.getByRole("button", { name: "Clear canvas" }).click();
      await p.getByText("Draw, type or drop an image to search").waitFor();

      // Drop an image on the canvas → example-image query.
      wait = p.waitForRequest((r) => r.url().endsWith("/search/hybrid") && /^data:image\//.test(r.postDataJSON()?.image ?? ""));
      await p.evaluate(async () => {
        const c = document.createElement("canvas");
        c.width = 64;
        c.height = 48;
        const ctx = c.getContext("2d");
        ctx.fillStyle = "#fff";
        ctx.fillRect(0, 0, 64, 48);
        ctx.strokeStyle = "#000";
        ctx.strokeRect(8, 8, 48, 32);
        const blob = await new Promise((r) => c.toBlob(r, "image/png"));
        const dt = new DataTransfer();
        dt.items.add(new File([blob], "example.png", { type: "image/png" }));
        const target = document.querySelector(".sketch-surface");
        target.dispatchEvent(new DragEvent("dragover", { dataTransfer: dt, bubbles: true, cancelable: true }));
        target.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
      });
      const body = (await wait).postDataJSON();
      assert.equal(body.sketch, null);
      assert.ok(body.wImg > 0 || body.wEdge > 0 || body.wShape > 0, "an example image weighs a view it feeds");
      await p.getByTestId("example-image").waitFor();
      await p.getByTestId("result").first().waitFor({ timeout: 60_000 });
    } finally {
      await p.close();
    }
  });

  it("says what happened when the API is down or the model is missing", { timeout: 60_000 }, async () => {
    const p = await browser.context.newPage();
    try {
      await p.route("**/search/hybrid", (route) => route.abort("connectionrefused"));
      await p.goto(app + "/");
      await drawStrokes(p);
      await p.getByRole("alert").filter({ hasText: "API down" }).waitFor({ timeout: 20_000 });
      await p.unroute("**/search/hybrid");
      await p.route("**/search/hybrid", (route) =>
        route.fulfill({
          status: 503,
          contentType: "application/problem+json",
          body: JSON.stringify({ type: "https://clippy.dev/problems/weights_unavailable", title: "Weights unavailable", status: 503, detail: "Model weights for 'ViT-B-32' not found; set PRETRAINED", instance: "/search/hybrid", code: "weights_unavailable", requestId: "x", errors: [] }),
        }),
      );
      await p.getByRole("button", { name: "Try again" }).click();
      await p.getByRole("alert").filter({ hasText: "Model missing" }).waitFor();
      await p.getByText("Model weights for 'ViT-B-32' not found; set PRETRAINED").waitFor();
      await shot(p, "05-error-state.png");
    } finally {
      await p.close();
    }
  });

  it("without /atlas (an older server) or with a failing one, every card shows its own thumbnail", { timeout: 90_000 }, async () => {
    for (const status of [404, 500]) {
      const p = await browser.context.newPage();
      try {
        let posts = 0;
        await p.route("**/atlas", (route) => {
          posts++;
          return route.fulfill({ status, contentType: "application/problem+json", body: JSON.stringify({ status, code: status === 404 ? "not_found" : "internal_error", detail: "no atlas here", errors: [] }) });
        });
        await p.goto(app + "/");
        await drawStrokes(p);
        await p.getByTestId("result").first().waitFor({ timeout: 60_000 });
        const widths = await thumbsLoaded(p, 4);
        assert.ok(widths.every((w) => w > 0), `HTTP ${status}: the thumbnails have pixels: ${widths}`);
        const cards = await cardThumbs(p);
        assert.ok(posts >= 1, "the grid asked for an atlas");
        assert.equal(cards.filter((c) => c.sprite).length, 0, "no sprites without an atlas");
        assert.ok(cards.slice(0, 4).every((c) => c.img), "the cards fall back to their own <img>");
        assert.equal(await p.getByRole("alert").count(), 0, "nothing is shown to the user");
      } finally {
        await p.close();
      }
    }
  });

  it("fits a tablet viewport without sideways scrolling", { timeout: 90_000 }, async () => {
    const p = await browser.context.newPage();
    try {
      await p.setViewportSize({ width: 820, height: 1180 });
      await p.goto(app + "/");
      await drawStrokes(p);
      await p.getByTestId("result").first().waitFor({ timeout: 60_000 });
      const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `no horizontal overflow (${overflow}px)`);
      await thumbsLoaded(p);
      await shot(p, "06-tablet.png");
      await p.getByRole("tab", { name: "Library" }).click();
      await p.getByTestId("library-item").first().waitFor({ timeout: 30_000 });
      const libOverflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(libOverflow <= 1, `the library view has no horizontal overflow (${libOverflow}px)`);
    } finally {
      await p.close();
    }
  });

  it("an unavailable provider disables Generate with the reason; a failed job shows one line and its details on demand", { timeout: 90_000 }, async () => {
    const p = await browser.context.newPage();
    try {
      const reason = "SDXL_MODEL=x: not on disk; run `clippy models pull sdxl`";
      const docs = "https://example.org/docs/operations.md#model-weights-clippy-models-pull";
      await p.route("**/info", async (route) => {
        const info = await (await route.fetch()).json();
        info.generationProvider = "sdxl";
        info.providers = { ...info.providers, sdxl: { available: false, reason, setting: "SDXL_MODEL", docs } };
        await route.fulfill({ json: info });
      });
      await p.goto(app + "/");
      await p.getByRole("tab", { name: /Generate/ }).click();
      await p.getByLabel("Prompt", { exact: true }).fill("a picture");
      const note = p.getByTestId("provider-unavailable");
      await note.waitFor();
      assert.match(await note.innerText(), /sdxl is unavailable: SDXL_MODEL=x: not on disk/);
      assert.equal(await note.getByRole("link", { name: "How to fix it" }).getAttribute("href"), docs);
      assert.equal(await p.getByRole("button", { name: "Generate image" }).isDisabled(), true);

      // With the provider available again, a job that fails: its one-line message, the technical text behind "Details".
      await p.unroute("**/info");
      const now = new Date().toISOString();
      const job = { id: "failing-job", kind: "generate", progress: null, result: null, createdAt: now, updatedAt: now };
      await p.route("**/images/generate", (route) =>
        route.fulfill({ status: 202, json: { ...job, status: "queued", error: null }, headers: { Location: "/jobs/failing-job" } }),
      );
      await p.route("**/jobs/failing-job", (route) =>
        route.fulfill({
          json: { ...job, status: "failed", error: { code: "weights_unavailable", message: "SDXL is not on disk: run `clippy models pull sdxl`.", detail: "OSError: tiny/sdxl does not appear to have a file named model_index.json" } },
        }),
      );
      await p.reload();
      await p.getByRole("tab", { name: /Generate/ }).click();
      await p.getByLabel("Prompt", { exact: true }).fill("a picture");
      await p.getByRole("button", { name: "Generate image" }).click();
      const status = p.getByTestId("job-status");
      await status.filter({ hasText: "SDXL is not on disk: run `clippy models pull sdxl`." }).waitFor();
      const detail = p.getByText("OSError: tiny/sdxl does not appear to have a file named model_index.json");
      assert.equal(await detail.isVisible(), false);
      await p.getByTestId("job-error-details").getByText("Details").click();
      await detail.waitFor({ state: "visible" });
    } finally {
      await p.close();
    }
  });

  it("raised no uncaught errors in the page", () => {
    assert.deepEqual(pageErrors, []);
  });
});
