import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api } from "@/api/client";
import type { AtlasResponse } from "@/api/schema";
import { atlasGroups, atlasKey, createAtlasStore, PENDING, thumbFor, type AtlasStore, type LoadedAtlasPage } from "./atlas";

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** An atlas placing every id but `missing` on page 0, 4 cells of 128 a row. */
function atlasFor(wanted: string[], missing: string[] = []): AtlasResponse {
  const placed = wanted.filter((id) => !missing.includes(id));
  const rows = Math.max(1, Math.ceil(placed.length / 4));
  return {
    cell: 128,
    padding: 2,
    pages: [{ url: "/atlas/tok/0.png", width: 512, height: rows * 128 }],
    sprites: Object.fromEntries(placed.map((id, i) => [id, { page: 0, x: (i % 4) * 128 + 2, y: Math.floor(i / 4) * 128 + 2, w: 124, h: 100 }])),
    missing,
  };
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

interface Harness {
  store: AtlasStore;
  fetchFn: ReturnType<typeof vi.fn>;
  loads: string[];
  released: string[];
  debug: ReturnType<typeof vi.fn>;
  notified: () => number;
}

/** The store as the app builds it (api.atlas over a stubbed fetch), with a fake page loader. */
function harness(answer: (body: { ids: string[]; cell?: number }) => Response | Promise<Response>, loadPage?: (url: string) => Promise<LoadedAtlasPage>): Harness {
  const fetchFn = vi.fn(async (_url: string, init: RequestInit) => answer(JSON.parse(String(init.body)) as { ids: string[]; cell?: number }));
  vi.stubGlobal("fetch", fetchFn);
  const loads: string[] = [];
  const released: string[] = [];
  const debug = vi.fn();
  const store = createAtlasStore({
    fetchAtlas: (ids, cell, signal) => api.atlas({ ids, cell }, signal),
    loadPage:
      loadPage ??
      (async (url) => {
        loads.push(url);
        const src = `blob:page-${loads.length}`;
        return { src, release: () => released.push(src) };
      }),
    graceMs: 1000,
    debug,
  });
  let n = 0;
  store.subscribe(() => n++);
  return { store, fetchFn, loads, released, debug, notified: () => n };
}

const settle = () => vi.advanceTimersByTimeAsync(0);

beforeEach(() => vi.useFakeTimers());
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe("atlasKey / atlasGroups", () => {
  it("keys by the set of ids, so a re-ranked page of the same hits shares its atlas", () => {
    expect(atlasKey(["b", "a", "c"])).toBe(atlasKey(["c", "b", "a", "a"]));
    expect(atlasKey(["a"])).not.toBe(atlasKey(["a", "b"]));
  });
  it("one group per page, split at the server's 500 ids", () => {
    const groups = atlasGroups([ids("p", 24), ids("q", 1200)]);
    expect(groups.map((g) => g.length)).toEqual([24, 500, 500, 200]);
    expect(atlasGroups([[]])).toEqual([]);
  });
});

describe("atlas store", () => {
  it("asks once per page, not again on a re-sync, and draws every hit of the page from its loaded image", async () => {
    const page1 = ids("a", 6);
    const h = harness((b) => json(atlasFor(b.ids)));
    h.store.sync([page1], 192);
    h.store.sync([page1], 192); // a re-render
    expect(thumbFor(h.store.snapshot(), "a0")).toBe(PENDING);
    await settle();
    expect(h.fetchFn).toHaveBeenCalledTimes(1);
    const [url, init] = h.fetchFn.mock.calls[0]!;
    expect(url).toBe("/atlas");
    expect(init.method).toBe("POST");
    expect(JSON.parse(String(init.body))).toEqual({ ids: [...page1].sort(), cell: 192 });
    expect(h.loads).toEqual(["/atlas/tok/0.png"]);
    const t = thumbFor(h.store.snapshot(), "a5");
    expect(t).toMatchObject({ kind: "sprite", src: "blob:page-1", style: { aspectRatio: "124 / 100" } });

    // The next infinite-scroll page: one more request, the first page's atlas kept.
    const page2 = ids("b", 3);
    h.store.sync([page1, page2], 192);
    h.store.sync([page1, [...page2].reverse()], 192); // same ids in another order: same atlas
    await settle();
    expect(h.fetchFn).toHaveBeenCalledTimes(2);
    expect(h.loads).toHaveLength(2);
    expect(thumbFor(h.store.snapshot(), "a0")?.kind).toBe("sprite");
    expect(thumbFor(h.store.snapshot(), "b2")).toMatchObject({ kind: "sprite", src: "blob:page-2" });
    expect(h.released).toEqual([]);
  });

  it("keeps each sprite object stable across unrelated changes (memoised cards do not re-render)", async () => {
    const h = harness((b) => json(atlasFor(b.ids)));
    h.store.sync([["x"]], 128);
    await settle();
    const before = thumbFor(h.store.snapshot(), "x");
    h.store.sync([["x"], ["y"]], 128);
    await settle();
    expect(thumbFor(h.store.snapshot(), "x")).toBe(before);
  });

  it("frees the pages of results that left the screen", async () => {
    const h = harness((b) => json(atlasFor(b.ids)));
    h.store.sync([["a", "b"]], 128);
    await settle();
    h.store.sync([["c"]], 128);
    await settle();
    expect(h.released).toEqual(["blob:page-1"]);
    expect(h.store.snapshot().thumbs.has("a")).toBe(false);
    h.store.sync([], 0);
    expect(h.released).toEqual(["blob:page-1", "blob:page-2"]);
  });

  it("aborts an atlas still on its way when its results go, and frees a page that lands after", async () => {
    let resolvePage: ((p: LoadedAtlasPage) => void) | null = null;
    const released: string[] = [];
    const h = harness(
      (b) => json(atlasFor(b.ids)),
      () =>
        new Promise<LoadedAtlasPage>((ok) => {
          resolvePage = ok;
        }),
    );
    h.store.sync([["a"]], 128);
    await settle();
    expect(resolvePage).not.toBeNull();
    h.store.sync([["z"]], 128);
    resolvePage!({ src: "blob:late", release: () => released.push("blob:late") });
    await settle();
    expect(released).toEqual(["blob:late"]);
    expect(h.store.snapshot().thumbs.has("a")).toBe(false);
    expect((h.fetchFn.mock.calls[0]![1] as RequestInit).signal?.aborted).toBe(true);
  });

  it("ids in `missing` use their own image; the others are sprites", async () => {
    const h = harness((b) => json(atlasFor(b.ids, ["m"])));
    h.store.sync([["a", "m"]], 128);
    await settle();
    const snap = h.store.snapshot();
    expect(thumbFor(snap, "m")).toBeNull();
    expect(thumbFor(snap, "a")?.kind).toBe("sprite");
    expect(h.debug).toHaveBeenCalledWith(expect.stringContaining("not in the atlas"), ["m"]);
  });

  it("a sprite outside its page (or on no page) falls back instead of drawing garbage", async () => {
    const bad = { ...atlasFor(["a", "b"]), sprites: { a: { page: 0, x: 500, y: 0, w: 124, h: 100 }, b: { page: 3, x: 0, y: 0, w: 10, h: 10 } } };
    const h = harness(() => json(bad));
    h.store.sync([["a", "b"]], 128);
    await settle();
    expect(thumbFor(h.store.snapshot(), "a")).toBeNull();
    expect(thumbFor(h.store.snapshot(), "b")).toBeNull();
    expect(h.loads).toEqual([]);
  });

  it("an older server (404): every card uses its own image and no further atlas is asked for", async () => {
    const h = harness(() => json({ detail: "Not Found" }, 404));
    h.store.sync([["a"]], 128);
    await settle();
    expect(thumbFor(h.store.snapshot(), "a")).toBeNull();
    expect(h.store.snapshot().accepting).toBe(false);
    // Ids the store was never told about are not left waiting either.
    expect(thumbFor(h.store.snapshot(), "never-synced")).toBeNull();
    h.store.sync([["a"], ["b"]], 128);
    await settle();
    expect(h.fetchFn).toHaveBeenCalledTimes(1);
    expect(h.debug).toHaveBeenCalledWith(expect.stringContaining("no POST /atlas"), expect.anything());
  });

  it("a 5xx or a network failure falls back for that page only, quietly", async () => {
    let calls = 0;
    const h = harness(() => {
      calls++;
      if (calls === 1) return json({ code: "internal_error", status: 500, detail: "boom", errors: [] }, 500);
      throw new TypeError("Failed to fetch");
    });
    h.store.sync([["a"]], 128);
    await settle();
    expect(thumbFor(h.store.snapshot(), "a")).toBeNull();
    h.store.sync([["a"], ["b"]], 128);
    await settle();
    expect(thumbFor(h.store.snapshot(), "b")).toBeNull();
    expect(h.store.snapshot().accepting).toBe(true);
    expect(h.debug).toHaveBeenCalledTimes(2);
  });

  it("a page image that does not load falls back for its ids", async () => {
    const h = harness(
      (b) => json(atlasFor(b.ids)),
      async () => {
        throw new Error("HTTP 410");
      },
    );
    h.store.sync([["a", "b"]], 128);
    await settle();
    expect(thumbFor(h.store.snapshot(), "a")).toBeNull();
    expect(h.debug).toHaveBeenCalledWith(expect.stringContaining("did not load"), expect.any(Error));
  });

  it("a cell the server refuses (422 about `cell`) is asked again with the server's default", async () => {
    const h = harness((b) =>
      b.cell === 256
        ? json({ code: "invalid_input", status: 422, detail: "`cell` must be a multiple of 16 from 32 to 128 (THUMB_SIZE) but is 256.", errors: [{ field: "cell", message: "must be a multiple of 16" }] }, 422)
        : json(atlasFor(b.ids)),
    );
    h.store.sync([["a"]], 256);
    await settle();
    expect(h.fetchFn).toHaveBeenCalledTimes(2);
    expect(JSON.parse(String((h.fetchFn.mock.calls[1]![1] as RequestInit).body))).toEqual({ ids: ["a"] });
    expect(thumbFor(h.store.snapshot(), "a")?.kind).toBe("sprite");
  });

  it("waits a moment for the atlas, then lets the cards fetch their own thumbnails; a late sprite still replaces them", async () => {
    let answer: ((r: Response) => void) | null = null;
    const h = harness(
      () =>
        new Promise<Response>((ok) => {
          answer = ok;
        }),
    );
    h.store.sync([["a"]], 128);
    await settle();
    expect(thumbFor(h.store.snapshot(), "a")).toBe(PENDING);
    await vi.advanceTimersByTimeAsync(1000);
    expect(thumbFor(h.store.snapshot(), "a")).toBeNull();
    answer!(json(atlasFor(["a"])));
    await settle();
    expect(thumbFor(h.store.snapshot(), "a")?.kind).toBe("sprite");
    expect(h.notified()).toBeGreaterThanOrEqual(3);
  });
});
