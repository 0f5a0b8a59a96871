// End to end in a real browser: Debian's Chromium + playwright-core against the
// real Clippy service (tiny random-weight model, fixture library, tiny SDXL).
// Run: npm run test:e2e   (see client/README.md for the knobs)
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
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

/** The first `n` result thumbnails have loaded real pixels. */
async function thumbsLoaded(p, n = 4) {
  await p.waitForFunction(
    (n) => {
      const imgs = [...document.querySelectorAll("[data-testid=result] img")].slice(0, n);
      return imgs.length > 0 && imgs.every((i) => i.complete && i.naturalWidth > 0);
    },
    n,
    { timeout: 30_000 },
  );
  return p.evaluate(() => [...document.querySelectorAll("[data-testid=result] img")].slice(0, 4).map((i) => i.naturalWidth));
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
    if (!servedByService) t.todo("FastAPI does not mount client/dist at / yet; the harness served it instead");
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
    assert.ok(body.wEdge > 0, "the edge view is weighed for a sketch");
    // Debounced: three strokes must not cost three searches each.
    assert.ok(sent.length <= 3, `debounced: ${sent.length} searches for 3 strokes`);
    // Score bars are drawn for every hit.
    const bars = await page.locator("[data-testid=result] [role=img]").count();
    assert.ok(bars >= 1, "each hit shows its score bars");
    await shot(page, "01-sketch-results.png");
  });

  it("move a slider → a new request with the new weights; the order may change", { timeout: 120_000 }, async () => {
    const first = lastAnswer();
    assert.ok(first?.json?.hits?.length, "there are results to reorder");
    const tag = first.json.hits.find((h) => h.tags?.length)?.tags[0] ?? "cat";
    // Give the query a second view (text), so moving the edge weight can reorder.
    const prompt = page.getByRole("searchbox", { name: "Text prompt" });
    let wait = page.waitForResponse((r) => r.url().endsWith("/search/hybrid") && r.request().postDataJSON()?.queryText === tag);
    await prompt.fill(tag);
    await wait;
    await page.getByTestId("result").first().waitFor();
    const withText = lastAnswer();
    const orderBefore = withText.json.hits.map((h) => h.id);

    const slider = page.getByRole("slider", { name: "Lines weight (wEdge)" });
    wait = page.waitForResponse((r) => r.url().endsWith("/search/hybrid") && r.request().postDataJSON()?.wEdge === 0, { timeout: 30_000 });
    await slider.focus();
    await page.keyboard.press("Home");
    const res = await wait;
    const body = res.request().postDataJSON();
    assert.equal(body.wEdge, 0);
    assert.equal(body.queryText, tag);
    assert.ok(body.wImg > 0 && body.wTxt > 0, "the other weights are sent as set");
    assert.equal(res.status(), 200);
    const json = await res.json();
    const orderAfter = json.hits.map((h) => h.id);
    log(`order changed after wEdge → 0: ${JSON.stringify(orderBefore.slice(0, 5)) !== JSON.stringify(orderAfter.slice(0, 5))}`);
    if (json.weights) assert.ok(!json.weights.edge, `the server used no edge weight: ${JSON.stringify(json.weights)}`);
    await page.waitForFunction(() => document.querySelector("[data-testid=results-summary]")?.textContent?.includes("results"));
    await thumbsLoaded(page);
    await shot(page, "02-after-slider.png");

    // A preset puts the weights back.
    wait = page.waitForResponse((r) => r.url().endsWith("/search/hybrid") && r.request().postDataJSON()?.wEdge === 1);
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
    mkdirSync(join(REPO, "assets"), { recursive: true });
    writeFileSync(join(ARTIFACTS, "screenshot-client.png"), small);
    copyFileSync(join(ARTIFACTS, "screenshot-client.png"), README_SHOT);
    log(`README screenshot: ${README_SHOT} (${Math.round(small.length / 1024)} KB)`);
  });

  it("the generated image can be the next query", { timeout: 60_000 }, async () => {
    const wait = page.waitForRequest((r) => r.url().endsWith("/search/hybrid") && typeof r.postDataJSON()?.image === "string");
    await page.getByRole("button", { name: "Search by it" }).first().click();
    await page.getByTestId("example-image").waitFor();
    await wait;
  });

  it("canvas tools: eraser, clear, undo and redo re-run the search; a dropped image becomes the example query", { timeout: 120_000 }, async () => {
    const p = await browser.context.newPage();
    try {
      const sent = [];
      p.on("request", (r) => r.method() === "POST" && r.url().endsWith("/search/hybrid") && sent.push(r.postDataJSON()));
      await p.goto(app + "/");
      await drawStrokes(p);
      await p.getByTestId("result").first().waitFor({ timeout: 60_000 });
      const drawn = sent[sent.length - 1].sketch;

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
      assert.ok(body.wImg > 0 || body.wEdge > 0, "an example image weighs the image or edge view");
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
          contentType: "application/json",
          body: JSON.stringify({ error: { code: "weights_unavailable", message: "Model weights for 'ViT-B-32' not found; set PRETRAINED", details: {} }, requestId: "x" }),
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
    } finally {
      await p.close();
    }
  });

  it("raised no uncaught errors in the page", () => {
    assert.deepEqual(pageErrors, []);
  });
});
