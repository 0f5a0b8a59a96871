// The Story tab end to end against the real service with tiny random models: a picture →
// a story (the tiny LLaVA from tests/support/tiny_vlm.py), the story edited → a storyboard of
// 2 frames (the tiny SDXL), each frame with its "informed by" thumbnails.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { ARTIFACTS, ensureBuilt, launch, log, REPO, startServer } from "./harness.mjs";

// The mock API has no story routes.
const skip = process.env.CLIPPY_E2E_SERVER === "mock" ? "the mock API has no story routes" : false;
const PICTURE = join(REPO, "assets", "sample", "photos", "cat.jpg");
// Both sentences name the subject, so frame 2's retrieval finds frame 1 as its subject ref.
const STORY = "A small fox walks into the snowy forest.\n\nThe fox finds a lantern glowing under an old tree.";

describe("Story tab against the real service", { timeout: 900_000, skip }, () => {
  let server;
  let browser;
  let page;
  const pageErrors = [];
  const storyboardBodies = [];

  before(async () => {
    ensureBuilt();
    server = await startServer({ logName: "server-story.log" });
    browser = await launch({ width: 1280, height: 900 });
    page = await browser.context.newPage();
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    page.on("request", (r) => {
      if (r.method() === "POST" && new URL(r.url()).pathname === "/storyboards") storyboardBodies.push(r.postDataJSON());
    });
    await page.goto(server.base + "/");
    await page.getByRole("heading", { name: "Clippy" }).waitFor();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("a picked picture becomes a story, shown as editable text", { timeout: 300_000 }, async () => {
    await page.getByRole("tab", { name: "Story" }).click();
    await page.getByLabel("Picture for the story").setInputFiles(PICTURE);
    await page.getByTestId("story-source").waitFor({ timeout: 30_000 });
    await page.getByRole("button", { name: "Make a story", exact: true }).click();
    await page.getByTestId("story").waitFor({ timeout: 240_000 });
    const job = page.getByTestId("story-job");
    assert.equal(await job.getAttribute("data-status"), "succeeded");
    // (the tab panel is named "Story" too)
    const body = page.getByRole("textbox", { name: "Story", exact: true });
    const told = await body.inputValue();
    log(`the tiny VLM told: ${JSON.stringify(told.slice(0, 200))}`);
    // Edited text is what the storyboard is drawn from.
    await page.getByLabel("Title", { exact: true }).fill("The fox and the lantern");
    await body.fill(STORY);
    await page.getByLabel("Subjects", { exact: true }).fill("fox, lantern");
    await page.getByLabel("Setting", { exact: true }).fill("a snowy forest at night");
  });

  it("the story becomes a storyboard of 2 frames, each with what informed it", { timeout: 400_000 }, async () => {
    await page.getByLabel("Frames", { exact: true }).fill("2");
    // The tiny SDXL allows at most 256 px a side (SDXL_MAX_SIDE).
    await page.getByLabel("Frame size").selectOption(process.env.CLIPPY_E2E_SIZE ?? "256");
    await page.getByRole("button", { name: "Make a storyboard" }).click();
    // Until the job ends each frame has a place saying where it stands.
    await page.getByTestId("frame-pending").first().waitFor({ timeout: 30_000 });
    const frames = page.getByTestId("frame");
    // Two frames, or the job's failure (said at once rather than after the timeout).
    await page.waitForFunction(
      () => document.querySelectorAll("[data-testid=frame]").length === 2 || document.querySelector("[data-testid=storyboard-job]")?.getAttribute("data-status") === "failed",
      null,
      { timeout: 360_000 },
    );
    const line = page.getByTestId("storyboard-job");
    assert.equal(await line.getAttribute("data-status"), "succeeded", `the storyboard job: ${await line.innerText()}`);
    assert.equal(await frames.count(), 2);
    const sent = storyboardBodies.at(-1);
    assert.equal(sent.frames, 2);
    assert.equal(sent.story.title, "The fox and the lantern");
    assert.deepEqual(sent.story.paragraphs, STORY.split("\n\n"));
    assert.deepEqual(sent.story.subjects, ["fox", "lantern"]);
    // Frame pictures load (through AuthImage, from /generated/).
    await page.waitForFunction(() => [...document.querySelectorAll("[data-testid=frame-image]")].every((i) => i.naturalWidth > 0), null, { timeout: 30_000 });
    // Frame 2 shares the fox with frame 1, so frame 1 informed it; its thumbnail is drawn.
    const second = frames.nth(1).getByTestId("informed-by-thumb");
    assert.ok((await second.count()) >= 1, "frame 2 shows at least one informed-by thumbnail");
    const alts = await second.evaluateAll((imgs) => imgs.map((i) => i.getAttribute("alt")));
    assert.ok(alts.some((a) => /frame 1/.test(a ?? "")), `frame 1 is among what informed frame 2: ${JSON.stringify(alts)}`);
    await page.waitForFunction(
      () => [...document.querySelectorAll("[data-testid=frame]")][1].querySelectorAll("[data-testid=informed-by-thumb]")[0]?.naturalWidth > 0,
      null,
      { timeout: 30_000 },
    );
    await page.screenshot({ path: join(ARTIFACTS, "story-storyboard.png") });
    // Each frame can go to the edit flow or be a reference.
    assert.equal(await frames.nth(0).getByRole("button", { name: "Edit this image" }).count(), 1);
    await frames.nth(0).getByRole("button", { name: "Use as reference" }).click();
    assert.deepEqual(pageErrors, []);
  });

  it("past stories are searchable", { timeout: 60_000 }, async () => {
    await page.getByLabel("Search past stories").fill("a story");
    await page.getByRole("button", { name: "Search stories" }).click();
    await page.getByTestId("story-hits").locator("li").first().waitFor({ timeout: 30_000 });
  });
});
