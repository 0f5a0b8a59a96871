import { describe, expect, it } from "vitest";
import type { SearchHit, SearchResponse } from "@/api/schema";
import { canLoadMore, collapseSimilar, initialResults, mergePage, nearIdentical, resultsReducer, type ResultsState } from "./results";

function hit(id: string, score = 0.5): SearchHit {
  return { id, score, views: {}, imageUrl: `/image/${id}`, thumbUrl: `/thumb/${id}`, tags: [], width: 10, height: 10, source: null, path: null, payload: { tags: [] } };
}

function page(ids: string[], nextCursor: string | null = null): SearchResponse {
  return {
    requestId: "r",
    hits: ids.map((i) => hit(i)),
    nextCursor,
    weights: { image: 1 },
    timings: { encodeMs: 0, searchMs: 1, rerankMs: 0, totalMs: 1 },
    candidates: ids.length,
    model: { name: "clippy-tiny", pretrained: "random" },
  };
}

function run(actions: Parameters<typeof resultsReducer>[1][], start: ResultsState = initialResults): ResultsState {
  return actions.reduce(resultsReducer, start);
}

describe("mergePage", () => {
  it("appends a page and keeps the first occurrence of a repeated id", () => {
    const merged = mergePage([hit("a", 0.9), hit("b", 0.8)], [hit("b", 0.1), hit("c", 0.7)]);
    expect(merged.map((h) => h.id)).toEqual(["a", "b", "c"]);
    expect(merged[1]!.score).toBe(0.8);
  });
  it("does not change the previous list", () => {
    const prev = [hit("a")];
    mergePage(prev, [hit("b")]);
    expect(prev).toHaveLength(1);
  });
});

describe("resultsReducer", () => {
  it("shows the first page and offers more when there is a cursor", () => {
    const s = run([
      { type: "start", ticket: 1, key: "k" },
      { type: "page", ticket: 1, response: page(["a", "b"], "c2"), append: false },
    ]);
    expect(s.status).toBe("ready");
    expect(s.hits.map((h) => h.id)).toEqual(["a", "b"]);
    expect(canLoadMore(s)).toBe(true);
  });

  it("appends the next page", () => {
    const s = run([
      { type: "start", ticket: 1, key: "k" },
      { type: "page", ticket: 1, response: page(["a", "b"], "c2"), append: false },
      { type: "startMore", ticket: 1 },
      { type: "page", ticket: 1, response: page(["b", "c"], null), append: true },
    ]);
    expect(s.hits.map((h) => h.id)).toEqual(["a", "b", "c"]);
    expect(s.nextCursor).toBeNull();
    expect(canLoadMore(s)).toBe(false);
  });

  it("drops a stale response from an older search", () => {
    const s = run([
      { type: "start", ticket: 1, key: "old" },
      { type: "start", ticket: 2, key: "new" },
      { type: "page", ticket: 2, response: page(["new"]), append: false },
      { type: "page", ticket: 1, response: page(["old"]), append: false },
    ]);
    expect(s.hits.map((h) => h.id)).toEqual(["new"]);
    expect(s.key).toBe("new");
  });

  it("drops a late next page once a new search has started", () => {
    const s = run([
      { type: "start", ticket: 1, key: "k" },
      { type: "page", ticket: 1, response: page(["a"], "c2"), append: false },
      { type: "startMore", ticket: 1 },
      { type: "start", ticket: 2, key: "k2" },
      { type: "page", ticket: 1, response: page(["late"]), append: true },
    ]);
    expect(s.status).toBe("loading");
    expect(s.hits.map((h) => h.id)).toEqual(["a"]);
  });

  it("an older start cannot take the screen back", () => {
    const s = run([
      { type: "start", ticket: 2, key: "new" },
      { type: "start", ticket: 1, key: "old" },
    ]);
    expect(s.ticket).toBe(2);
    expect(s.key).toBe("new");
  });

  it("ends the list on an empty page even with a cursor", () => {
    const s = run([
      { type: "start", ticket: 1, key: "k" },
      { type: "page", ticket: 1, response: page([], "c2"), append: false },
    ]);
    expect(s.hits).toEqual([]);
    expect(canLoadMore(s)).toBe(false);
  });

  it("a failed first page is an error; a failed further page keeps the hits", () => {
    const failed = run([
      { type: "start", ticket: 1, key: "k" },
      { type: "fail", ticket: 1, error: new Error("down"), append: false },
    ]);
    expect(failed.status).toBe("error");

    const more = run([
      { type: "start", ticket: 1, key: "k" },
      { type: "page", ticket: 1, response: page(["a"], "c2"), append: false },
      { type: "startMore", ticket: 1 },
      { type: "fail", ticket: 1, error: new Error("down"), append: true },
    ]);
    expect(more.status).toBe("ready");
    expect(more.hits).toHaveLength(1);
    expect(more.moreError).toBeInstanceOf(Error);
    expect(canLoadMore(more)).toBe(false);
  });

  it("will not load more while a page is loading", () => {
    const s = run([{ type: "start", ticket: 1, key: "k" }, { type: "startMore", ticket: 1 }]);
    expect(s.status).toBe("loading");
  });
});

describe("clearMoreError", () => {
  it("lets a failed further page be retried", () => {
    const s = run([
      { type: "start", ticket: 1, key: "k" },
      { type: "page", ticket: 1, response: page(["a"], "c2"), append: false },
      { type: "startMore", ticket: 1 },
      { type: "fail", ticket: 1, error: new Error("down"), append: true },
      { type: "clearMoreError", ticket: 1 },
    ]);
    expect(canLoadMore(s)).toBe(true);
  });
});

describe("pageIds", () => {
  it("records the ids each page added, without repeats, for one atlas per page", () => {
    const s = run([
      { type: "start", ticket: 1, key: "k" },
      { type: "page", ticket: 1, response: page(["a", "b"], "c2"), append: false },
      { type: "startMore", ticket: 1 },
      { type: "page", ticket: 1, response: page(["b", "c"], "c3"), append: true },
      { type: "startMore", ticket: 1 },
      { type: "page", ticket: 1, response: page(["a"], null), append: true },
    ]);
    expect(s.pageIds).toEqual([["a", "b"], ["c"]]);
  });

  it("a new first page starts over; a failed search has none", () => {
    const s = run([
      { type: "start", ticket: 1, key: "k" },
      { type: "page", ticket: 1, response: page(["a"]), append: false },
      { type: "start", ticket: 2, key: "k2" },
      { type: "page", ticket: 2, response: page(["x", "y"]), append: false },
    ]);
    expect(s.pageIds).toEqual([["x", "y"]]);
    const failed = run([{ type: "start", ticket: 3, key: "k3" }, { type: "fail", ticket: 3, error: new Error("down"), append: false }], s);
    expect(failed.pageIds).toEqual([]);
  });
});

describe("collapsing near-identical hits", () => {
  const scored = (id: string, score: number, shape: number, tags: number, size = 10): SearchHit => ({
    ...hit(id, score),
    width: size,
    height: size,
    views: { shape: { raw: shape, calibrated: shape, weight: 1 }, tags: { raw: tags, calibrated: tags, weight: 1 } } as SearchHit["views"],
  });

  it("calls two hits near-identical only when size and every view's score agree", () => {
    expect(nearIdentical(scored("a", 0.8, 0.7, 0.3), scored("b", 0.8, 0.7, 0.3))).toBe(true);
    expect(nearIdentical(scored("a", 0.8, 0.7, 0.3), scored("b", 0.8, 0.7, 0.31))).toBe(false);
    expect(nearIdentical(scored("a", 0.8, 0.7, 0.3), scored("b", 0.8, 0.7, 0.3, 12))).toBe(false);
    // Without per-view scores there is nothing to compare: never collapsed.
    expect(nearIdentical(hit("a", 0.8), hit("b", 0.8))).toBe(false);
  });

  it("folds a run of copies under its first hit and keeps non-consecutive copies apart", () => {
    const hits = [scored("a", 0.9, 0.9, 0.1), scored("a2", 0.9, 0.9, 0.1), scored("a3", 0.9, 0.9, 0.1), scored("b", 0.8, 0.7, 0.3), scored("c", 0.7, 0.6, 0.2), scored("b2", 0.8, 0.7, 0.3)];
    expect(collapseSimilar(hits)).toEqual([null, 0, 0, null, null, null]);
    expect(collapseSimilar([])).toEqual([]);
  });
});
