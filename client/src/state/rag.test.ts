import { describe, expect, it } from "vitest";
import type { ComplementaryRef, ComplementaryResult } from "@/api/schema";
import { attributionRows, cellShade, shapeMatrix, toGrounding } from "./coverage";
import { chipsReducer, chipsSignature, MAX_CHIPS, nextChipId, toSubQueries, type Chip } from "./subqueries";

const decomposed = [
  { id: "q1", text: "watercolor painting", kind: "style" as const, weight: 1 },
  { id: "q2", text: "red fox", kind: "subject" as const, weight: 1 },
  { id: "q3", text: "snowy forest", kind: "setting" as const, weight: 1 },
];

function chips(): Chip[] {
  return chipsReducer([], { type: "set", subQueries: decomposed });
}

describe("sub-query chips", () => {
  it("takes a decomposition as is, dropping blanks and repeats and fixing bad ids", () => {
    expect(chips().map((c) => c.id)).toEqual(["q1", "q2", "q3"]);
    const odd = chipsReducer([], {
      type: "set",
      subQueries: [
        { id: "q1", text: "  fox  ", kind: "subject", weight: 1 },
        { id: "q1", text: "owl", kind: "object", weight: 1 },
        { id: "bad id!", text: "night", kind: "setting", weight: 1 },
        { id: "q9", text: "FOX", kind: "subject", weight: 1 },
        { id: null, text: "   ", kind: "subject", weight: 1 },
      ],
    });
    expect(odd).toEqual([
      { id: "q1", text: "fox", kind: "subject", weight: 1 },
      { id: "q2", text: "owl", kind: "object", weight: 1 },
      { id: "q3", text: "night", kind: "setting", weight: 1 },
    ]);
  });

  it("adds a chip with the next free id; refuses blanks, repeats and more than the limit", () => {
    let s = chipsReducer(chips(), { type: "add", text: " an owl ", kind: "object" });
    expect(s[3]).toEqual({ id: "q4", text: "an owl", kind: "object", weight: 1 });
    expect(chipsReducer(s, { type: "add", text: "  " })).toBe(s);
    expect(chipsReducer(s, { type: "add", text: "Red Fox" })).toBe(s);
    for (let i = 0; i < 20; i++) s = chipsReducer(s, { type: "add", text: `thing ${i}` });
    expect(s).toHaveLength(MAX_CHIPS);
    expect(nextChipId([{ id: "q2", text: "a", kind: "subject", weight: 1 }, { id: "x", text: "b", kind: "subject", weight: 1 }])).toBe("q3");
  });

  it("edits text (blank removes the chip, a repeat is refused) and kind", () => {
    const s = chips();
    expect(chipsReducer(s, { type: "edit", id: "q2", text: "grey wolf" })[1]!.text).toBe("grey wolf");
    expect(chipsReducer(s, { type: "edit", id: "q2", text: " " }).map((c) => c.id)).toEqual(["q1", "q3"]);
    expect(chipsReducer(s, { type: "edit", id: "q2", text: "snowy FOREST" })).toBe(s);
    expect(chipsReducer(s, { type: "setKind", id: "q3", kind: "object" })[2]!.kind).toBe("object");
    expect(chipsReducer(s, { type: "cycleKind", id: "q3" })[2]!.kind).toBe("subject"); // setting wraps to subject
    expect(chipsReducer(s, { type: "cycleKind", id: "q2" })[1]!.kind).toBe("object");
    expect(chipsReducer(s, { type: "remove", id: "q1" })).toHaveLength(2);
    expect(chipsReducer(s, { type: "clear" })).toEqual([]);
  });

  it("maps to subQueries and tells when the chips changed", () => {
    const s = chips();
    expect(toSubQueries(s)[1]).toEqual({ id: "q2", text: "red fox", kind: "subject", weight: 1 });
    const sig = chipsSignature(s);
    expect(chipsSignature(chipsReducer(s, { type: "edit", id: "q2", text: "red fox" }))).toBe(sig);
    expect(chipsSignature(chipsReducer(s, { type: "cycleKind", id: "q2" }))).not.toBe(sig);
  });
});

function ref(id: string, coverage: Record<string, number>): ComplementaryRef {
  return {
    id,
    rank: 1,
    gain: 0,
    coverage,
    covers: [],
    attributed: [],
    role: "subject",
    weight: 0.5,
    imageUrl: `/image/${id}`,
    thumbUrl: `/thumb/${id}`,
    tags: [],
    width: null,
    height: null,
    source: null,
    path: null,
  };
}

describe("coverage matrix", () => {
  const result: Pick<ComplementaryResult, "subQueries" | "refs" | "matrix"> = {
    subQueries: decomposed,
    refs: [ref("a", { q1: 0.2, q2: 0.9, q3: 0.1 }), ref("b", { q1: 0.7, q2: 0.3, q3: 0.1 })],
    // Rows listed in another order than refs: values are matched by id.
    matrix: { rows: ["b", "a"], columns: ["q1", "q2", "q3"], values: [[0.7, 0.3, 0.1], [0.2, 0.9, 0.1]], threshold: 0.5 },
  };

  it("shapes refs × sub-queries with the best reference per column", () => {
    const m = shapeMatrix(result);
    expect(m.columns.map((c) => [c.id, c.index, c.bestRefId, c.covered])).toEqual([
      ["q1", 1, "b", true],
      ["q2", 2, "a", true],
      ["q3", 3, "a", false], // a tie goes to the earlier reference; 0.1 is under the threshold
    ]);
    expect(m.rows.map((r) => r.cells.map((c) => c.value))).toEqual([
      [0.2, 0.9, 0.1],
      [0.7, 0.3, 0.1],
    ]);
    expect(m.rows[0]!.cells.map((c) => [c.best, c.covers])).toEqual([
      [false, false],
      [true, true],
      [true, false],
    ]);
    expect(m.covered).toBe(2);
  });

  it("falls back to each ref's coverage and counts a missing score as 0", () => {
    const m = shapeMatrix({ ...result, matrix: null, refs: [ref("a", { q2: 1.4 })] });
    expect(m.rows[0]!.cells.map((c) => [c.value, c.strength])).toEqual([
      [0, 0],
      [1.4, 1],
      [0, 0],
    ]);
    expect(m.columns[0]!.bestRefId).toBeNull();
    expect(m.threshold).toBe(0.5);
  });

  it("hands the answer to a grounded generation as is, but for sub-queries without an id", () => {
    const answer: ComplementaryResult = {
      ...result,
      matrix: result.matrix,
      subQueries: [...decomposed, { text: "no id", kind: "object", weight: 1 }],
      requestId: "r",
      prompt: "p",
      attribution: [],
      coverage: 0.5,
      covered: 2,
      frontier: 2,
      candidates: 10,
      method: "greedy",
      weights: { image: 1 },
      timings: { encodeMs: 1, searchMs: 1, rerankMs: 0, totalMs: 2 },
    };
    const grounding = toGrounding(answer);
    expect(grounding.subQueries.map((q) => q.id)).toEqual(["q1", "q2", "q3"]);
    expect(grounding.refs).toBe(answer.refs);
    expect(grounding).toMatchObject({ prompt: "p", coverage: 0.5 });
  });

  it("shades by strength and keeps text readable", () => {
    expect(cellShade(0)).toEqual({ backgroundColor: "rgba(79, 70, 229, 0.06)", color: "#1e1b4b" });
    expect(cellShade(1)).toEqual({ backgroundColor: "rgba(79, 70, 229, 1)", color: "#ffffff" });
    expect(cellShade(Number.NaN).backgroundColor).toBe("rgba(79, 70, 229, 0.06)");
  });

  it("joins a job's attribution to the references' thumbnails", () => {
    const rows = attributionRows(
      [
        { subQueryId: "q1", text: "watercolor painting", kind: "style", refId: "b", refIndex: 1, role: "style", weight: 0.72, score: 0.7 },
        { subQueryId: "q3", text: "snowy forest", kind: "setting", refId: null, refIndex: null, role: null, weight: null, score: 0 },
      ],
      result.refs,
    );
    expect(rows[0]!.ref?.thumbUrl).toBe("/thumb/b");
    expect(rows[1]!.ref).toBeNull();
    expect(attributionRows(undefined, result.refs)).toEqual([]);
  });
});
