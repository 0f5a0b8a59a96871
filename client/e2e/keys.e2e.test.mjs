// The client against the real service with API_KEYS set: every route but /healthz and
// /readyz needs `x-api-key`, which an <img> cannot send. With the key stored, the page's
// own requests carry it and server images load through AuthImage (fetched with the header);
// without it the page says the API refused.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { ensureBuilt, launch, startServer } from "./harness.mjs";

const KEY = "e2e-admin-key-0123456789abcdef";

// The mock API (CLIPPY_E2E_SERVER=mock) has no API keys to test.
const skip = process.env.CLIPPY_E2E_SERVER === "mock" ? "the mock API does not check keys" : false;

describe("Clippy client behind API keys", { timeout: 600_000, skip }, () => {
  let server;
  let browser;

  before(async () => {
    ensureBuilt();
    server = await startServer({ env: { API_KEYS: `${KEY}:admin` }, logName: "server-keys.log" });
    browser = await launch();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("the API refuses a request without the key", async () => {
    assert.equal((await fetch(`${server.base}/info`)).status, 401);
    assert.equal((await fetch(`${server.base}/info`, { headers: { "x-api-key": KEY } })).status, 200);
  });

  it("with the key stored, the library's thumbnails load", { timeout: 120_000 }, async () => {
    const page = await browser.context.newPage();
    await page.addInitScript((key) => localStorage.setItem("clippy.apiKey", key), KEY);
    await page.goto(server.base + "/");
    await page.getByText(/\d+ images/).waitFor({ timeout: 30_000 });
    await page.getByRole("tab", { name: "Library" }).click();
    const tiles = page.locator("[data-testid=library-item] img");
    await tiles.first().waitFor({ timeout: 30_000 });
    await page.waitForFunction(
      () => [...document.querySelectorAll("[data-testid=library-item] img")].slice(0, 4).every((i) => i.naturalWidth > 0),
      null,
      { timeout: 30_000 },
    );
    const src = await tiles.first().getAttribute("src");
    assert.match(src ?? "", /^blob:/, "the thumbnail was fetched with the key and shown from a blob");
    await page.close();
  });

  it("with the key stored, search results draw from an atlas page fetched with the key", { timeout: 120_000 }, async () => {
    const page = await browser.context.newPage();
    const atlas = [];
    page.on("response", (r) => {
      const path = new URL(r.url()).pathname;
      if (path === "/atlas" || path.startsWith("/atlas/")) atlas.push({ method: r.request().method(), path, status: r.status(), key: r.request().headers()["x-api-key"] ?? null });
    });
    await page.addInitScript((key) => localStorage.setItem("clippy.apiKey", key), KEY);
    await page.goto(server.base + "/");
    await page.getByText(/\d+ images/).waitFor({ timeout: 30_000 });
    await page.getByRole("searchbox", { name: "Text prompt" }).fill("cat");
    await page.getByTestId("result").first().waitFor({ timeout: 60_000 });
    const sprite = page.locator("[data-testid=result] [data-atlas-sprite]").first();
    await sprite.waitFor({ timeout: 30_000 });
    const bg = await sprite.evaluate((el) => getComputedStyle(el).backgroundImage);
    assert.match(bg, /^url\("?blob:/, "the atlas page was fetched with the key and drawn from a blob");
    const post = atlas.find((a) => a.method === "POST");
    const get = atlas.find((a) => a.method === "GET");
    assert.deepEqual([post?.status, post?.key], [200, KEY], "POST /atlas carried the key");
    assert.deepEqual([get?.status, get?.key], [200, KEY], "the page image was fetched with the key");
    await page.close();
  });
});
