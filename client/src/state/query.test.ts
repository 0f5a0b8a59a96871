import { describe, expect, it } from "vitest";
import {
  presetsFromInfo,
  buildSearchRequest,
  clampWeight,
  effectiveWeights,
  initialQuery,
  matchPreset,
  parseTags,
  PRESETS,
  requestKey,
  toggleExample,
  withCursor,
  type QueryState,
} from "./query";

const SKETCH = "data:image/png;base64,AAAA";
const IMAGE = "data:image/jpeg;base64,BBBB";
const none = { sketch: null, image: null };

function q(over: Partial<QueryState> = {}): QueryState {
  return { ...initialQuery, ...over };
}

describe("presets", () => {
  it("sketch only weighs the two line views, edge and shape, alone", () => {
    expect(PRESETS.sketch.weights).toEqual({ wImg: 0, wEdge: 1, wShape: 1, wTxt: 0, wTags: 0 });
  });
  it("text only never weighs the sketch", () => {
    expect(PRESETS.text.weights.wEdge).toBe(0);
    expect(PRESETS.text.weights.wShape).toBe(0);
    expect(PRESETS.text.weights.wTxt).toBeGreaterThan(0);
  });
  it("matchPreset recognises a preset and forgets it when a slider moves", () => {
    expect(matchPreset(PRESETS.balanced.weights)).toBe("balanced");
    expect(matchPreset({ ...PRESETS.balanced.weights, wTags: 0.7 })).toBeNull();
    expect(matchPreset({ ...PRESETS.sketch.weights, wShape: 0 })).toBeNull();
  });
  it("the default query is balanced", () => {
    expect(matchPreset(initialQuery.weights)).toBe("balanced");
  });
  it("clampWeight keeps weights in [0, 2] at two decimals", () => {
    expect(clampWeight(-1)).toBe(0);
    expect(clampWeight(5)).toBe(2);
    expect(clampWeight(0.123)).toBe(0.12);
    expect(clampWeight(Number.NaN)).toBe(0);
  });
});

describe("parseTags", () => {
  it("splits on commas, trims, lower-cases and de-duplicates", () => {
    expect(parseTags(" Cat, dog ,, CAT,red   panda ")).toEqual(["cat", "dog", "red panda"]);
  });
  it("returns nothing for blank input", () => {
    expect(parseTags("  , ")).toEqual([]);
  });
});

describe("effectiveWeights", () => {
  const w = { wImg: 1, wEdge: 1, wShape: 0.5, wTxt: 1, wTags: 0.5 };
  it("a sketch alone keeps only the edge and shape views", () => {
    expect(effectiveWeights(w, { sketch: true, image: false, text: false, examples: false })).toEqual({ wImg: 0, wEdge: 1, wShape: 0.5, wTxt: 0, wTags: 0 });
  });
  it("text alone keeps image (cross-modal), text and tags", () => {
    expect(effectiveWeights(w, { sketch: false, image: false, text: true, examples: false })).toEqual({ wImg: 1, wEdge: 0, wShape: 0, wTxt: 1, wTags: 0.5 });
  });
  it("an example image feeds the image, edge and shape views", () => {
    expect(effectiveWeights(w, { sketch: false, image: true, text: false, examples: false })).toEqual({ wImg: 1, wEdge: 1, wShape: 0.5, wTxt: 0, wTags: 0 });
  });
  it("library examples keep every view", () => {
    expect(effectiveWeights(w, { sketch: false, image: false, text: false, examples: true })).toEqual(w);
  });
});

describe("buildSearchRequest", () => {
  it("says there is nothing to search without any input", () => {
    expect(buildSearchRequest(q(), none)).toEqual({ kind: "empty", reason: "no-input" });
  });
  it("says the weights are all zero for the inputs at hand", () => {
    expect(buildSearchRequest(q({ weights: PRESETS.text.weights }), { sketch: SKETCH, image: null })).toEqual({
      kind: "empty",
      reason: "zero-weights",
    });
  });
  it("builds a sketch query with the contract's fields", () => {
    const r = buildSearchRequest(q(), { sketch: SKETCH, image: null });
    expect(r.kind).toBe("request");
    if (r.kind !== "request") return;
    expect(r.request).toEqual({
      queryText: null,
      sketch: SKETCH,
      image: null,
      wImg: 0,
      wEdge: 1,
      wShape: 0.5,
      wTxt: 0,
      wTags: 0,
      limit: 24,
      cursor: null,
      filter: null,
      rerank: true,
      positiveIds: [],
      negativeIds: [],
    });
  });
  it("trims the prompt and sends filters as tagsAll / tagsNone", () => {
    const r = buildSearchRequest(q({ text: "  a cat ", tagsInclude: ["cat"], tagsExclude: ["dog"], rerank: false }), none);
    if (r.kind !== "request") throw new Error("expected a request");
    expect(r.request.queryText).toBe("a cat");
    // The server's filter forbids unknown keys: only tag lists are sent.
    expect(r.request.filter).toEqual({ tagsAll: ["cat"], tagsAny: [], tagsNone: ["dog"] });
    expect(r.request.rerank).toBe(false);
  });
  it("sends positive and negative examples", () => {
    const r = buildSearchRequest(q({ positiveIds: ["a"], negativeIds: ["b"] }), none);
    if (r.kind !== "request") throw new Error("expected a request");
    expect(r.request.positiveIds).toEqual(["a"]);
    expect(r.request.negativeIds).toEqual(["b"]);
  });
  it("gives a new key when a weight changes and the same key for the same question", () => {
    const a = buildSearchRequest(q({ text: "cat" }), none);
    const b = buildSearchRequest(q({ text: "cat" }), none);
    const c = buildSearchRequest(q({ text: "cat", weights: { ...initialQuery.weights, wTxt: 0.3 } }), none);
    if (a.kind !== "request" || b.kind !== "request" || c.kind !== "request") throw new Error("expected requests");
    expect(a.key).toBe(b.key);
    expect(a.key).not.toBe(c.key);
  });
  it("the key distinguishes filters and ignores the cursor", () => {
    const a = buildSearchRequest(q({ text: "cat", tagsInclude: ["x"] }), none);
    const b = buildSearchRequest(q({ text: "cat", tagsInclude: ["y"] }), none);
    if (a.kind !== "request" || b.kind !== "request") throw new Error("expected requests");
    expect(a.key).not.toBe(b.key);
    expect(requestKey(withCursor(a.request, "page-2"))).toBe(a.key);
    expect(withCursor(a.request, "page-2").cursor).toBe("page-2");
  });
  it("includes an example image", () => {
    const r = buildSearchRequest(q(), { sketch: null, image: IMAGE });
    if (r.kind !== "request") throw new Error("expected a request");
    expect(r.request.image).toBe(IMAGE);
    expect(r.request.wImg).toBe(1);
  });
});

describe("toggleExample", () => {
  it("moves an id between the lists and toggles it off", () => {
    let s = toggleExample(q(), "x", "positive");
    expect(s.positiveIds).toEqual(["x"]);
    s = toggleExample(s, "x", "negative");
    expect(s.positiveIds).toEqual([]);
    expect(s.negativeIds).toEqual(["x"]);
    s = toggleExample(s, "x", "negative");
    expect(s.negativeIds).toEqual([]);
  });
});

describe("presetsFromInfo", () => {
  const zero = { wImg: 0, wEdge: 0, wShape: 0, wTxt: 0, wTags: 0 };
  const defaults = {
    kinds: {
      sketch: { weights: { ...zero, wShape: 1 }, rerank: true },
      text: { weights: { ...zero, wTxt: 1, wTags: 0.5 }, rerank: true },
      "sketch+text": { weights: { ...zero, wShape: 1, wTxt: 1, wTags: 1 }, rerank: false },
      image: { weights: { ...zero, wShape: 0.5 }, rerank: true },
      examples: { weights: { ...zero, wShape: 0.5, wTxt: 1 }, rerank: true },
    },
    withoutSignal: { image: "random weights", edge: "random weights" },
    source: "a test table",
  };

  it("follows the server's defaults per query kind, views without signal at 0", () => {
    const presets = presetsFromInfo(defaults);
    expect(presets.sketch.weights).toEqual({ ...zero, wShape: 1 });
    expect(presets.text.weights).toEqual({ ...zero, wTxt: 1, wTags: 0.5 });
    expect(presets.balanced.weights).toEqual({ ...zero, wShape: 1, wTxt: 1, wTags: 1 });
    expect(presets.balanced.label).toBe("Balanced");
    expect(matchPreset({ ...zero, wShape: 1 }, presets)).toBe("sketch");
    expect(matchPreset(PRESETS.balanced.weights, presets)).toBeNull();
  });

  it("keeps the built-in presets when the server sends no defaults", () => {
    expect(presetsFromInfo(undefined)).toBe(PRESETS);
    expect(presetsFromInfo({ ...defaults, kinds: { sketch: defaults.kinds.sketch } })).toBe(PRESETS);
  });
});
