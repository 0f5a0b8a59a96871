import { describe, expect, it } from "vitest";
import type { DuplicateReport, ImagePage, ImageSummary, ImportResult, Job } from "@/api/schema";
import { confirmMatches, groupKey, groupReason, idsToDelete, initialSelection, needsTypedConfirm, pruneReport, restoreWindow, selectionReducer } from "./duplicates";
import { describeImport, importFraction, importReducer, initialImport, isImportable, isValidLibrary, parseTags, parseUrls, uploadedName } from "./imports";
import { canLoadMoreLibrary, initialLibrary, libraryReducer, tagCounts } from "./library";

function job(over: Partial<Job<ImportResult>>): Job<ImportResult> {
  return { id: "j1", kind: "import", status: "queued", progress: null, result: null, error: null, createdAt: "", updatedAt: "", ...over };
}

describe("import progress", () => {
  it("goes uploading → queued → running n/N → done with the result", () => {
    let s = importReducer(initialImport, { type: "start" });
    expect(describeImport(s)).toBe("Uploading…");
    expect(importFraction(s)).toBeNull();
    s = importReducer(s, { type: "job", job: job({}) });
    expect(s.phase).toBe("queued");
    s = importReducer(s, { type: "job", job: job({ status: "running", progress: { step: 1, total: 4 } }) });
    expect([s.done, s.total, importFraction(s)]).toEqual([1, 4, 0.25]);
    expect(describeImport(s)).toBe("Importing — 1 of 4");
    // A late poll never moves progress back.
    s = importReducer(s, { type: "job", job: job({ status: "running", progress: { step: 3, total: 4 } }) });
    s = importReducer(s, { type: "job", job: job({ status: "running", progress: { step: 2, total: 4 } }) });
    expect(s.done).toBe(3);
    const result: ImportResult = { library: "u", total: 4, ingested: 2, skipped: 1, failed: [{ path: "x.txt", reason: "not an image" }], ids: ["a", "b"] };
    s = importReducer(s, { type: "job", job: job({ status: "succeeded", progress: { step: 4, total: 4 }, result }) });
    expect(s.phase).toBe("succeeded");
    expect(importFraction(s)).toBe(1);
    expect(describeImport(s)).toBe("Done — 2 imported, 1 already in the library, 1 failed");
    // Finished: a stray poll changes nothing.
    expect(importReducer(s, { type: "job", job: job({ status: "running" }) })).toBe(s);
  });

  it("follows a changed total and ignores another job's answers", () => {
    let s = importReducer(initialImport, { type: "job", job: job({ status: "running", progress: { step: 2, total: 2 } }) });
    s = importReducer(s, { type: "job", job: job({ status: "running", progress: { step: 1, total: 10 } }) });
    expect([s.done, s.total]).toEqual([1, 10]);
    expect(importReducer(s, { type: "job", job: job({ id: "other", status: "succeeded" }) })).toBe(s);
  });

  it("keeps the reason when the request or the job fails", () => {
    const e = new Error("boom");
    expect(importReducer(importReducer(initialImport, { type: "start" }), { type: "error", error: e })).toMatchObject({ phase: "failed", error: e });
    const f = importReducer(initialImport, { type: "job", job: job({ status: "failed", error: { code: "x", message: "disk full" } }) });
    expect(f.phase).toBe("failed");
    expect((f.error as Error).message).toBe("disk full");
    expect(importReducer(f, { type: "reset" })).toEqual(initialImport);
  });

  it("names a failed upload by its content hash; keeps the names across job updates", () => {
    const sha = "ab".repeat(32);
    let s = importReducer(importReducer(initialImport, { type: "start" }), { type: "names", names: { [sha]: "holiday.png" } });
    s = importReducer(s, { type: "job", job: job({ status: "running", progress: { step: 1, total: 2 } }) });
    expect(s.names[sha]).toBe("holiday.png");
    expect(uploadedName(`/srv/images/imports/uploads/ab/${sha}.png`, s.names)).toBe("holiday.png");
    expect(uploadedName(`imports/uploads/ab/${sha.toUpperCase()}`, s.names)).toBe("holiday.png");
    expect(uploadedName("https://example.org/x.png", s.names)).toBeNull();
    expect(uploadedName(`/srv/${"cd".repeat(32)}.png`, s.names)).toBeNull();
  });

  it("parses URLs, tags and library names; knows what it can import", () => {
    expect(parseUrls("https://a.example/x.png\n  http://b.example/y.jpg, ftp://c/z.png nope https://a.example/x.png")).toEqual({
      urls: ["https://a.example/x.png", "http://b.example/y.jpg"],
      rejected: ["ftp://c/z.png", "nope"],
    });
    expect(parseTags(" cats, Dogs ,, cats ,dogs")).toEqual(["cats", "Dogs"]);
    expect(isValidLibrary("my_lib-2")).toBe(true);
    expect(isValidLibrary("bad name")).toBe(false);
    expect(isValidLibrary("")).toBe(false);
    expect(isImportable({ name: "a.PNG", type: "" })).toBe(true);
    expect(isImportable({ name: "set.zip", type: "application/x-zip-compressed" })).toBe(true);
    expect(isImportable({ name: "notes.txt", type: "text/plain" })).toBe(false);
  });
});

const report: DuplicateReport = {
  library: null,
  threshold: 0.95,
  scanned: 10,
  exact: [
    {
      kind: "exact",
      keep: "a",
      members: [
        { id: "a", library: "x", path: null, width: 10, height: 10, score: null },
        { id: "b", library: "y", path: null, width: 10, height: 10, score: 1 },
      ],
      minScore: null,
      maxScore: null,
    },
  ],
  near: [
    {
      kind: "near",
      keep: "c",
      members: [
        { id: "c", library: "x", path: null, width: 20, height: 20, score: null },
        { id: "d", library: "x", path: null, width: 10, height: 10, score: 0.99 },
        { id: "a", library: "x", path: null, width: 10, height: 10, score: 0.97 },
      ],
      minScore: 0.97,
      maxScore: 0.99,
    },
  ],
};

describe("duplicates selection", () => {
  it("starts with nothing marked: a person ticks what goes", () => {
    const sel = initialSelection(report);
    expect(sel[groupKey(report.exact[0]!)]).toEqual({ keep: "a", remove: [] });
    expect(sel["near:c"]).toEqual({ keep: "c", remove: [] });
    expect(idsToDelete(sel)).toEqual([]);
  });

  it("marks all but the keeper of one group on request; never deletes a keeper of any group", () => {
    let sel = initialSelection(report);
    sel = selectionReducer(sel, { type: "markOthers", group: "near:c", members: report.near[0]!.members.map((m) => m.id) });
    expect(sel["near:c"]).toEqual({ keep: "c", remove: ["d", "a"] });
    expect(sel["exact:a"]!.remove).toEqual([]); // the other group is untouched
    // "a" is the exact group's keeper, so it is spared in the near group too.
    expect(idsToDelete(sel)).toEqual(["d"]);
    sel = selectionReducer(sel, { type: "markOthers", group: "exact:a", members: ["a", "b"] });
    expect(idsToDelete(sel)).toEqual(["b", "d"]);
    expect(idsToDelete(selectionReducer(sel, { type: "clear" }))).toEqual([]);
  });

  it("toggles members, not the keeper; a new keeper is spared", () => {
    let sel = initialSelection(report);
    expect(selectionReducer(sel, { type: "toggle", group: "near:c", id: "c" })).toBe(sel);
    sel = selectionReducer(sel, { type: "toggle", group: "near:c", id: "d" });
    expect(sel["near:c"]!.remove).toEqual(["d"]);
    sel = selectionReducer(sel, { type: "toggle", group: "near:c", id: "a" });
    expect(sel["near:c"]!.remove).toEqual(["d", "a"]);
    sel = selectionReducer(sel, { type: "toggle", group: "near:c", id: "d" });
    expect(sel["near:c"]!.remove).toEqual(["a"]);
    sel = selectionReducer(sel, { type: "toggle", group: "near:c", id: "d" });
    sel = selectionReducer(sel, { type: "keep", group: "near:c", id: "d" });
    expect(sel["near:c"]).toEqual({ keep: "d", remove: ["a"] });
    sel = selectionReducer(sel, { type: "toggle", group: "exact:a", id: "b" });
    expect(idsToDelete(sel)).toEqual(["b"]);
    expect(selectionReducer(sel, { type: "deleted", ids: ["b"] })["exact:a"]!.remove).toEqual([]);
  });

  it("says why a group is a group", () => {
    expect(groupReason(report.exact[0]!, 0.95)).toBe("Same file content (identical SHA-256)");
    expect(groupReason(report.near[0]!, 0.95)).toBe("Image similarity 0.970–0.990 (cosine, at or above 0.95)");
    expect(groupReason({ ...report.near[0]!, minScore: 0.98, maxScore: 0.98 }, 0.9)).toBe("Image similarity 0.980 (cosine, at or above 0.9)");
  });

  it("asks for the typed count above a few items; the count or the word delete confirms", () => {
    expect(needsTypedConfirm(3)).toBe(false);
    expect(needsTypedConfirm(4)).toBe(true);
    expect(confirmMatches("41", 41)).toBe(true);
    expect(confirmMatches(" Delete ", 41)).toBe(true);
    expect(confirmMatches("40", 41)).toBe(false);
    expect(confirmMatches("", 41)).toBe(false);
  });

  it("says how long a trashed item stays restorable", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(restoreWindow("2026-01-08T00:00:00Z", now)).toBe("restorable for 7 days");
    expect(restoreWindow("2026-01-01T05:30:00Z", now)).toBe("restorable for 5 h");
    expect(restoreWindow("2026-01-01T00:00:20Z", now)).toBe("restorable for 1 min");
    expect(restoreWindow("2025-12-31T00:00:00Z", now)).toBe("purged soon");
  });

  it("prunes deleted members; a group left alone disappears", () => {
    const pruned = pruneReport(report, ["b", "d"]);
    expect(pruned.exact).toEqual([]);
    expect(pruned.near[0]!.members.map((m) => m.id)).toEqual(["c", "a"]);
    expect(pruneReport(report, ["c"]).near).toEqual([]); // the keeper went: nothing to keep it against
  });
});

function item(id: string, tags: string[] = []): ImageSummary {
  return { id, library: "default", tags, width: 10, height: 10, source: null, path: null, imageUrl: `/image/${id}`, thumbUrl: `/thumb/${id}` };
}
function page(ids: string[], nextCursor: string | null, total: number): ImagePage {
  return { items: ids.map((i) => item(i)), nextCursor, total };
}

describe("library list", () => {
  it("merges pages by cursor, drops stale answers and counts deletions", () => {
    let s = libraryReducer(initialLibrary, { type: "start", ticket: 1 });
    s = libraryReducer(s, { type: "page", ticket: 1, page: page(["a", "b"], "c1", 4), append: false });
    expect(canLoadMoreLibrary(s)).toBe(true);
    s = libraryReducer(s, { type: "startMore", ticket: 1 });
    expect(s.status).toBe("loadingMore");
    s = libraryReducer(s, { type: "page", ticket: 1, page: page(["b", "c", "d"], null, 4), append: true });
    expect(s.items.map((i) => i.id)).toEqual(["a", "b", "c", "d"]);
    expect(canLoadMoreLibrary(s)).toBe(false);
    // A new filter: the old listing's late page is dropped.
    s = libraryReducer(s, { type: "start", ticket: 2 });
    expect(libraryReducer(s, { type: "page", ticket: 1, page: page(["z"], null, 1), append: false })).toBe(s);
    s = libraryReducer(s, { type: "page", ticket: 2, page: page(["a", "b"], null, 2), append: false });
    s = libraryReducer(s, { type: "removed", ids: ["a", "nope"] });
    expect([s.items.map((i) => i.id), s.total]).toEqual([["b"], 1]);
  });

  it("keeps the items when a further page fails", () => {
    let s = libraryReducer(libraryReducer(initialLibrary, { type: "start", ticket: 1 }), { type: "page", ticket: 1, page: page(["a"], "c", 3), append: false });
    s = libraryReducer(libraryReducer(s, { type: "startMore", ticket: 1 }), { type: "fail", ticket: 1, error: new Error("x"), append: true });
    expect(s.items).toHaveLength(1);
    expect(canLoadMoreLibrary(s)).toBe(false);
    expect(libraryReducer(s, { type: "fail", ticket: 1, error: new Error("y"), append: false }).items).toEqual([]);
  });

  it("counts tags, most frequent first", () => {
    expect(tagCounts([item("a", ["cat", "pet"]), item("b", ["cat"]), item("c", ["dog"])])).toEqual([
      { tag: "cat", count: 2 },
      { tag: "dog", count: 1 },
      { tag: "pet", count: 1 },
    ]);
  });
});
