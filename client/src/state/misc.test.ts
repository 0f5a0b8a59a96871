import { describe, expect, it } from "vitest";
import { ApiError, NetworkError } from "@/api/client";
import type { Job } from "@/api/schema";
import { describeError } from "./errors";
import { emptyHistory, record, redo, undo } from "./history";
import { describeJob, isTerminal, pollDelay, progressFraction } from "./jobs";
import { columnCount, masonryColumns, masonryLayout, neighbour } from "./masonry";

function job(over: Partial<Job>): Job {
  return { id: "j", kind: "generate", status: "queued", progress: null, result: null, error: null, createdAt: "", updatedAt: "", ...over };
}

describe("jobs", () => {
  it("says what state a job is in", () => {
    expect(describeJob(job({ status: "queued" }))).toMatch(/Queued/);
    expect(describeJob(job({ status: "running", progress: { step: 3, total: 30 } }))).toBe("Running — step 3 of 30");
    expect(describeJob(job({ status: "failed", error: { code: "provider_error", message: "CUDA out of memory" } }))).toBe(
      "Failed — CUDA out of memory",
    );
    expect(describeJob(job({ status: "succeeded", result: { images: [{ id: null, url: "/generated/a.png" }], provider: "sdxl", model: "m", seed: 1 } }))).toBe(
      "Done — 1 image by sdxl",
    );
  });
  it("knows the terminal states and the progress", () => {
    expect(isTerminal("running")).toBe(false);
    expect(isTerminal("cancelled")).toBe(true);
    expect(progressFraction(job({ status: "running", progress: { step: 3, total: 12 } }))).toBe(0.25);
    expect(progressFraction(job({ status: "running" }))).toBeNull();
    expect(progressFraction(job({ status: "succeeded" }))).toBe(1);
  });
  it("backs off polling up to two seconds", () => {
    expect(pollDelay(0)).toBe(400);
    expect(pollDelay(1)).toBe(600);
    expect(pollDelay(20)).toBe(2000);
  });
});

describe("describeError", () => {
  it("names an unreachable API", () => {
    expect(describeError(new NetworkError("Cannot reach the Clippy API.")).title).toBe("API down");
  });
  it("uses the error JSON's message and names a missing model", () => {
    const p = describeError(new ApiError(503, "weights_unavailable", "Weights for 'ViT-B-32' not found; set PRETRAINED"));
    expect(p).toEqual({ title: "Model missing", message: "Weights for 'ViT-B-32' not found; set PRETRAINED", code: "weights_unavailable" });
  });
  it("names invalid input", () => {
    expect(describeError(new ApiError(422, "invalid_input", "`wImg`: must be >= 0")).title).toBe("Invalid query");
  });
});

describe("history", () => {
  it("undoes and redoes in order, and a new action drops the redo branch", () => {
    let h = record(record(emptyHistory<string>(), "a"), "b");
    const u = undo(h)!;
    expect(u.action).toBe("b");
    h = u.history;
    const r = redo(h)!;
    expect(r.action).toBe("b");
    h = record(h, "c");
    expect(redo(h)).toBeNull();
    expect(h.past).toEqual(["a", "c"]);
    expect(undo(emptyHistory())).toBeNull();
  });
});

describe("masonry", () => {
  it("keeps rank order and fills the shortest column", () => {
    const cols = masonryColumns(
      [
        { width: 100, height: 300 },
        { width: 100, height: 100 },
        { width: 100, height: 100 },
        { width: 100, height: 100 },
      ],
      2,
    );
    expect(cols).toEqual([[0], [1, 2, 3]]);
  });
  it("counts columns from the width", () => {
    expect(columnCount(0)).toBe(1);
    expect(columnCount(800, 180)).toBe(4);
    expect(columnCount(5000, 180, 6)).toBe(6);
  });
});

describe("masonry layout in rank order", () => {
  it("places each item, in rank order, at the top of the shortest column (leftmost on a tie)", () => {
    // Column width 100, gap 10: item 0 (300 tall) in column 0; 1 and 2 stack in column 1
    // (110 + 110 = 220 < 310); item 3 to column 1 too (220 < 310); item 4 to column 0 (310 < 330).
    const { placed, height } = masonryLayout([300, 100, 100, 100, 50], 2, 100, 10);
    expect(placed.map((p) => p.column)).toEqual([0, 1, 1, 1, 0]);
    expect(placed.map((p) => [p.x, p.y])).toEqual([
      [0, 0],
      [110, 0],
      [110, 110],
      [110, 220],
      [0, 310],
    ]);
    expect(height).toBe(360);
  });
  it("gives a hidden (zero-height) item no room and no gap", () => {
    const { placed, height } = masonryLayout([100, 0, 100], 1, 100, 10);
    expect(placed.map((p) => p.y)).toEqual([0, 110, 110]);
    expect(height).toBe(210);
  });
  it("is empty for no items and refuses negative sizes", () => {
    expect(masonryLayout([], 3, 100, 10)).toEqual({ placed: [], height: 0 });
    expect(() => masonryLayout([1], 2, -1, 10)).toThrow(/columnWidth/);
  });
  it("moves left/right by rank and up/down within the column", () => {
    const { placed } = masonryLayout([300, 100, 100, 100, 50], 2, 100, 10);
    expect(neighbour(placed, 0, "ArrowRight")).toBe(1);
    expect(neighbour(placed, 0, "ArrowLeft")).toBeNull();
    expect(neighbour(placed, 4, "ArrowRight")).toBeNull();
    expect(neighbour(placed, 1, "ArrowDown")).toBe(2);
    expect(neighbour(placed, 0, "ArrowDown")).toBe(4);
    expect(neighbour(placed, 4, "ArrowUp")).toBe(0);
    expect(neighbour(placed, 3, "ArrowDown")).toBeNull();
    expect(neighbour(placed, 2, "End")).toBe(4);
    expect(neighbour(placed, 2, "Home")).toBe(0);
    expect(neighbour([], 0, "Home")).toBeNull();
  });
});
