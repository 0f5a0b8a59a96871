// Accessibility, keyboard and phone checks in Debian's Chromium against the real service
// (or the mock, CLIPPY_E2E_SERVER=mock): axe-core over every view and dialog, results in
// rank order for keyboard and screen readers, the first result within 5 tab stops of the
// search box, and a phone viewport where touch drawing searches without scrolling the page.
// It also writes the README screenshot (docs/img/clippy.png, 1440×900 after a search).
// Figures go to e2e/artifacts/a11y-figures.json; CLIPPY_A11Y_MEASURE_ONLY=1 records them
// without asserting (how the "before" figures of issue 20 were taken).
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ARTIFACTS, ensureBuilt, fitPng, launch, log, REPO, servesClient, startClientProxy, startServer } from "./harness.mjs";

const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
const README_SHOT = join(REPO, "docs", "img", "clippy.png");
const MAX_README_SHOT = 400 * 1024;
const MEASURE_ONLY = process.env.CLIPPY_A11Y_MEASURE_ONLY === "1";
const figures = { axe: {}, tabStops: null, domOrderIsRank: null, domRanks: null, phone: {} };

/** axe-core over the page (or `include`): violations as {id, impact, nodes}. */
async function axe(p, name, include) {
  if (!(await p.evaluate(() => "axe" in window))) await p.addScriptTag({ path: AXE });
  const out = await p.evaluate(async (include) => {
    const r = await axe.run(include ? { include: [include] } : document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, targets: v.nodes.slice(0, 4).map((n) => n.target.join(" ")) }));
  }, include ?? null);
  const byImpact = {};
  for (const v of out) byImpact[v.impact] = (byImpact[v.impact] ?? 0) + v.nodes;
  figures.axe[name] = { byImpact, violations: out };
  log(`axe ${name}: ${out.length ? out.map((v) => `${v.id}(${v.impact}×${v.nodes})`).join(" ") : "no violations"}`);
  return out;
}

function expectClean(violations, name) {
  if (MEASURE_ONLY) return;
  assert.deepEqual(violations, [], `axe found violations in ${name}:\n${JSON.stringify(violations, null, 2)}`);
}

/** Draw strokes on the canvas with the mouse. */
async function drawWithMouse(p) {
  const box = await p.getByTestId("sketch-canvas").boundingBox();
  const at = (fx, fy) => [box.x + fx * box.width, box.y + fy * box.height];
  const strokes = [
    Array.from({ length: 20 }, (_, i) => at(0.5 + 0.3 * Math.cos((i / 19) * 2 * Math.PI), 0.5 + 0.3 * Math.sin((i / 19) * 2 * Math.PI))),
    [at(0.2, 0.2), at(0.5, 0.4), at(0.8, 0.2)],
  ];
  for (const [first, ...rest] of strokes) {
    await p.mouse.move(...first);
    await p.mouse.down();
    for (const pt of rest) await p.mouse.move(...pt, { steps: 2 });
    await p.mouse.up();
  }
}

/** Ranks of the result cards in DOM order. */
function domRanks(p) {
  return p.evaluate(() =>
    [...document.querySelectorAll("[data-testid=result]")].map((el) => {
      const m = /Result (\d+)/.exec(el.getAttribute("aria-label") ?? "") ?? /(\d+)/.exec(el.textContent ?? "");
      return m ? Number(m[1]) : null;
    }),
  );
}

/** Tab presses from the focused element until focus is inside the rank-1 card (or `max`). */
async function tabsToFirstResult(p, max = 60) {
  for (let n = 1; n <= max; n++) {
    await p.keyboard.press("Tab");
    const inFirst = await p.evaluate(() => {
      const card = document.activeElement?.closest("[data-testid=result]");
      return Boolean(card && /^Result 1\b/.test(card.getAttribute("aria-label") ?? ""));
    });
    if (inFirst) return n;
  }
  return null;
}

describe("Accessibility, keyboard and phone", { timeout: 600_000 }, () => {
  let server;
  let proxy = null;
  let app;
  let browser;
  let page;
  const searches = [];

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    ensureBuilt();
    server = await startServer({ logName: "server-a11y.log" });
    if (await servesClient(server.base)) app = server.base;
    else {
      proxy = await startClientProxy(server.base);
      app = proxy.base;
    }
    browser = await launch({ width: 1440, height: 900 });
    page = await browser.context.newPage();
    page.on("request", (r) => r.method() === "POST" && r.url().endsWith("/search/hybrid") && searches.push(r.postDataJSON()));
    await page.goto(app + "/");
    await page.getByText(/\d+ images/).first().waitFor({ timeout: 30_000 });
  });

  after(async () => {
    writeFileSync(join(ARTIFACTS, "a11y-figures.json"), JSON.stringify(figures, null, 2));
    log("a11y figures:", JSON.stringify({ axe: Object.fromEntries(Object.entries(figures.axe).map(([k, v]) => [k, v.byImpact])), tabStops: figures.tabStops, domOrderIsRank: figures.domOrderIsRank, phone: figures.phone }));
    await browser?.close();
    await proxy?.stop();
    await server?.stop();
  });

  it("first load: no axe violations, the canvas takes focus and says where to draw", { timeout: 60_000 }, async () => {
    expectClean(await axe(page, "sketch (empty)"), "the empty sketch view");
    const canvas = page.getByTestId("sketch-canvas");
    const focusable = await canvas.evaluate((el) => el.tabIndex >= 0 && (el.getAttribute("aria-label") ?? "").length > 0);
    figures.canvasFocusable = focusable;
    if (!MEASURE_ONLY) {
      assert.ok(focusable, "the sketch canvas is focusable and labelled");
      await page.getByTestId("canvas-hint").waitFor();
    }
  });

  it("first load: the results column explains the three ways to search and the sliders", { timeout: 30_000 }, async () => {
    const panel = page.locator("#results [data-testid=start-panel]");
    await panel.waitFor();
    const start = await panel.evaluate((el) => {
      const ways = [...el.querySelectorAll("ol > li")];
      const r = el.getBoundingClientRect();
      return {
        ways: ways.map((li) => li.querySelector("h3")?.textContent),
        // Side by side at 1440 px: the wide column is used, not one narrow stack.
        wayColumns: new Set(ways.map((li) => Math.round(li.getBoundingClientRect().left))).size,
        sliders: [...el.querySelectorAll("dt")].map((dt) => dt.textContent),
        // Static text: no tab stops between the prompt and the first result.
        focusable: [...el.querySelectorAll("a[href], button, input, [tabindex]")].length,
        width: Math.round(r.width),
      };
    });
    figures.startPanel = start;
    if (MEASURE_ONLY) return;
    assert.deepEqual(start.ways, ["Draw", "Type", "Drop an image"]);
    assert.equal(start.wayColumns, 3, "the three ways sit side by side at 1440 px");
    assert.deepEqual(start.sliders, ["Image", "Lines", "Shape", "Text", "Tags"]);
    assert.equal(start.focusable, 0, "the start panel adds no tab stops");
    assert.ok(start.width >= 600, `the start panel fills the results column (${start.width} px)`);
  });

  it("sliders with no input for their view are disabled with a hint", { timeout: 30_000 }, async () => {
    const text = page.getByRole("slider", { name: /^Text/ });
    const disabled = await text.evaluate((el) => el.hasAttribute("data-disabled") || el.getAttribute("aria-disabled") === "true");
    figures.textSliderDisabledWithoutPrompt = disabled;
    if (!MEASURE_ONLY) {
      assert.ok(disabled, "the Text slider is disabled without a prompt");
      await page.getByText("add a prompt to use Text").waitFor();
    }
  });

  it("a sketch search: results in rank order, no axe violations, the README screenshot", { timeout: 120_000 }, async () => {
    const before = searches.length;
    await drawWithMouse(page);
    await page.getByTestId("result").nth(5).waitFor({ timeout: 60_000 });
    assert.ok(searches.length > before, "drawing sent a search");
    figures.startPanelAfterSearch = await page.getByTestId("start-panel").count();
    if (!MEASURE_ONLY) assert.equal(figures.startPanelAfterSearch, 0, "the start panel gives way to the results");
    await page.waitForFunction(() => document.querySelector("[data-testid=results-grid]")?.getAttribute("data-refreshing") !== "true");
    const ranks = await domRanks(page);
    figures.domRanks = ranks.slice(0, 16);
    figures.domOrderIsRank = ranks.every((r, i) => r === i + 1);
    // The ranks sit in columns side by side (the layout is still a multi-column one).
    const lefts = await page.evaluate(() => new Set([...document.querySelectorAll("[data-testid=result]")].slice(0, 8).map((el) => Math.round(el.getBoundingClientRect().left))).size);
    figures.columnsAt1440 = lefts;
    await page.waitForFunction(() => [...document.querySelectorAll("[data-testid=result]")].slice(0, 6).every((c) => c.querySelector("[data-atlas-sprite]") || c.querySelector("img")?.complete), null, { timeout: 30_000 });
    figures.similarFolded = await page.getByTestId("similar-toggle").count();
    // The README shows the real service's library, not the mock's drawings.
    if (server.kind === "real") {
      mkdirSync(join(REPO, "docs", "img"), { recursive: true });
      writeFileSync(README_SHOT, await fitPng(browser.context, await page.screenshot(), MAX_README_SHOT));
    }
    expectClean(await axe(page, "sketch (results)"), "the results view");
    if (!MEASURE_ONLY) {
      assert.deepEqual(ranks, ranks.map((_, i) => i + 1), "result cards are in rank order in the DOM");
      assert.ok(lefts >= 3, `results laid out in columns at 1440 px (${lefts})`);
    }
  });

  it("keyboard only: the first result is within 5 tab stops of the search box and opens with Enter", { timeout: 60_000 }, async () => {
    const box = page.getByRole("searchbox", { name: "Text prompt" });
    await box.focus();
    const stops = await tabsToFirstResult(page);
    figures.tabStops = stops;
    // How many tab stops the first card itself has (1 with a roving tabindex).
    figures.tabStopsPerCard = await page.evaluate(() => {
      const card = document.querySelector("[data-testid=result]");
      return card ? [...card.querySelectorAll("button, a[href], input, [tabindex]")].filter((el) => el.tabIndex >= 0 && !el.disabled).length + (card.tabIndex >= 0 ? 1 : 0) : null;
    });
    const name = await page.evaluate(() => document.activeElement?.closest("[data-testid=result]")?.getAttribute("aria-label") ?? "");
    figures.firstResultName = name;
    if (MEASURE_ONLY) return;
    assert.ok(stops !== null && stops <= 5, `first result reached in ${stops} tab stops`);
    assert.equal(figures.tabStopsPerCard, 1, "one tab stop per card");
    assert.match(name, /Result 1\b.*score/i, "the card's name gives its rank and score");
    // Arrow keys move along the results; Enter opens the focused one.
    await page.keyboard.press("ArrowRight");
    assert.match(await page.evaluate(() => document.activeElement?.closest("[data-testid=result]")?.getAttribute("aria-label") ?? ""), /^Result 2\b/);
    await page.keyboard.press("ArrowLeft");
    await page.keyboard.press("Enter");
    await page.getByTestId("lightbox").waitFor({ timeout: 10_000 });
    const violations = await axe(page, "lightbox");
    await page.keyboard.press("Escape");
    await page.getByTestId("lightbox").waitFor({ state: "detached" });
    expectClean(violations, "the lightbox");
  });

  it("tooltips do not stack when tabbing through the toolbar", { timeout: 30_000 }, async () => {
    await page.getByRole("button", { name: "Pen", exact: true }).focus();
    for (let i = 0; i < 4; i++) await page.keyboard.press("Tab");
    // A closing tooltip may take a frame to leave; stacked ones stay.
    const settled = await page
      .waitForFunction(() => document.querySelectorAll("[role=tooltip]").length <= 1, null, { timeout: 3_000 })
      .then(() => true)
      .catch(() => false);
    const open = await page.locator("[role=tooltip]").count();
    figures.tooltipsOpenAfterTabbing = open;
    if (!MEASURE_ONLY) assert.ok(settled, `${open} tooltips open at once`);
    await page.keyboard.press("Escape");
  });

  it("the Generate and RAG panels have no axe violations", { timeout: 60_000 }, async () => {
    await page.getByRole("tab", { name: /Generate/ }).click();
    expectClean(await axe(page, "generate panel"), "the Generate panel");
    await page.getByRole("tab", { name: /RAG/ }).click();
    expectClean(await axe(page, "rag panel"), "the RAG panel");
    await page.getByRole("tab", { name: /Search/ }).click();
  });

  it("the Library views and dialogs have no axe violations; Import defaults to a listed library", { timeout: 90_000 }, async () => {
    await page.getByRole("tab", { name: "Library" }).click();
    await page.locator("[data-testid=library-item]").first().waitFor({ timeout: 30_000 });
    expectClean(await axe(page, "library browse"), "the Library view");
    await page.getByRole("button", { name: /^Import/ }).first().click();
    const dialog = page.getByRole("dialog");
    await dialog.waitFor();
    expectClean(await axe(page, "import dialog"), "the Import dialog");
    const listed = (await (await fetch(`${server.base}/libraries`)).json()).libraries?.map((l) => l.name) ?? [];
    const chosen = await dialog.getByLabel("Library", { exact: true }).inputValue();
    figures.importDefault = { chosen, listed };
    if (!MEASURE_ONLY) assert.ok(chosen === "" || listed.includes(chosen), `Import defaults to "${chosen}": one of GET /libraries (${listed}) or none`);
    await page.keyboard.press("Escape");
    await page.getByRole("button", { name: "New library" }).click();
    await page.getByRole("dialog").waitFor();
    expectClean(await axe(page, "new library dialog"), "the New library dialog");
    await page.keyboard.press("Escape");
    await page.getByRole("tab", { name: /Duplicates/ }).click();
    expectClean(await axe(page, "library duplicates"), "the Duplicates view");
    await page.getByRole("tab", { name: /Browse/ }).click();
    await page.getByRole("tab", { name: "Sketch" }).click();
  });

  it("the API key dialog has no axe violations", { timeout: 30_000 }, async () => {
    await page.getByRole("button", { name: /API key/i }).first().click();
    await page.getByRole("dialog").waitFor();
    expectClean(await axe(page, "api key dialog"), "the API key dialog");
    await page.keyboard.press("Escape");
  });

  it("phone (390×844): one-line header, 44 px targets, a results chip, touch drawing searches without scrolling", { timeout: 120_000 }, async () => {
    const phone = await launch({ width: 390, height: 844 }, { hasTouch: true, isMobile: true });
    try {
      const p = await phone.context.newPage();
      const sent = [];
      p.on("request", (r) => r.method() === "POST" && r.url().endsWith("/search/hybrid") && sent.push(r.postDataJSON()));
      await p.goto(app + "/");
      await p.getByText(/\d+ images/).first().waitFor({ timeout: 30_000 });
      const header = await p.locator("header").first().boundingBox();
      figures.phone.headerHeight = Math.round(header.height);
      const small = await p.evaluate(() =>
        [...document.querySelectorAll("[role=tab], [role=slider]")]
          .filter((el) => el.getBoundingClientRect().width > 0)
          .map((el) => ({ name: el.getAttribute("aria-label") ?? el.textContent?.trim(), h: Math.round(el.getBoundingClientRect().height), w: Math.round(el.getBoundingClientRect().width) }))
          .filter((t) => t.h < 44 || t.w < 44),
      );
      figures.phone.smallTargets = small;
      // Nothing wider than the phone: no sideways scrolling, the header's last button in view.
      figures.phone.pageWidth = await p.evaluate(() => document.documentElement.scrollWidth);
      // Touch strokes through the Chrome DevTools protocol, as a finger would.
      const canvas = await p.getByTestId("sketch-canvas").boundingBox();
      await p.evaluate(() => window.scrollTo(0, 0));
      const cdp = await phone.context.newCDPSession(p);
      const scrollBefore = await p.evaluate(() => window.scrollY);
      const pts = Array.from({ length: 16 }, (_, i) => ({ x: canvas.x + canvas.width * (0.2 + 0.04 * i), y: canvas.y + canvas.height * (0.2 + 0.035 * i) }));
      await cdp.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: [pts[0]] });
      for (const pt of pts.slice(1)) await cdp.send("Input.dispatchTouchEvent", { type: "touchMove", touchPoints: [pt] });
      await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
      const gotResults = await p
        .getByTestId("result")
        .first()
        .waitFor({ timeout: 30_000 })
        .then(() => true)
        .catch(() => false);
      const scrollAfter = await p.evaluate(() => window.scrollY);
      figures.phone.touchSearched = gotResults && sent.some((b) => b.sketch);
      figures.phone.touchScrolled = scrollAfter !== scrollBefore;
      const chip = p.getByTestId("results-chip");
      figures.phone.chip = (await chip.count()) > 0 ? await chip.textContent() : null;
      if (gotResults) expectClean(await axe(p, "phone results"), "the phone view");
      await p.screenshot({ path: join(ARTIFACTS, "a11y-phone.png") });
      if (MEASURE_ONLY) return;
      assert.ok(figures.phone.touchSearched, "a touch stroke sent a sketch search");
      assert.equal(scrollAfter, scrollBefore, "touch drawing did not scroll the page");
      // One row of 44 px targets (and the tab list's padding): two rows would be over 100 px.
      assert.ok(figures.phone.headerHeight <= 64, `the header is one line (${figures.phone.headerHeight} px)`);
      assert.ok(figures.phone.pageWidth <= 390, `the page fits the phone's width (${figures.phone.pageWidth} px)`);
      assert.deepEqual(small, [], "tabs and slider thumbs are at least 44 px");
      assert.match(figures.phone.chip ?? "", /\d+\+? results/);
      // The chip jumps to the results.
      await chip.click();
      await p.waitForFunction(() => {
        const r = document.querySelector("[data-testid=result]")?.getBoundingClientRect();
        return r && r.top >= 0 && r.top < window.innerHeight;
      });
    } finally {
      await phone.close();
    }
  });
});
