/** Query state → `POST /search/hybrid` body. Pure; no React, no fetch. */
import type { SearchDefaults, SearchFilter, SearchRequest } from "@/api/schema";

export interface Weights {
  wImg: number;
  wEdge: number;
  wTxt: number;
  /** The weight-free `shape` view: HOG of the line drawing, fed by the sketch and an example image. */
  wShape: number;
  wTags: number;
}

export type WeightKey = keyof Weights;

export const WEIGHT_KEYS: readonly WeightKey[] = ["wImg", "wEdge", "wShape", "wTxt", "wTags"];

export const WEIGHT_LABELS: Record<WeightKey, { label: string; hint: string }> = {
  wImg: { label: "Image", hint: "Looks like: the picture itself, matched by the prompt or an example image" },
  wEdge: { label: "Lines", hint: "Line structure: the edge map, matched by your sketch" },
  wShape: { label: "Shape", hint: "Outline geometry of the line drawing (no model: best on clip art and icons)" },
  wTxt: { label: "Text", hint: "Caption/tags through the text tower, matched by the prompt" },
  wTags: { label: "Tags", hint: "Exact tag words in the prompt (lexical)" },
};

/** What a view needs before its slider does anything: shown under a disabled slider. */
export const WEIGHT_NEEDS: Record<WeightKey, string> = {
  wImg: "add a prompt or an image to use Image",
  wEdge: "draw or add an image to use Lines",
  wShape: "draw or add an image to use Shape",
  wTxt: "add a prompt to use Text",
  wTags: "add a prompt to use Tags",
};

export type PresetName = "sketch" | "balanced" | "text";

export const PRESETS: Record<PresetName, { label: string; weights: Weights }> = {
  // A sketch meets the library in both line views: `shape` wins on aligned line art, `edge`
  // (with real CLIP weights) on looser drawings. Balanced gives `shape` half weight so it
  // helps on line-art libraries without dominating on photos.
  sketch: { label: "Sketch only", weights: { wImg: 0, wEdge: 1, wShape: 1, wTxt: 0, wTags: 0 } },
  balanced: { label: "Balanced", weights: { wImg: 1, wEdge: 1, wShape: 0.5, wTxt: 1, wTags: 0.5 } },
  text: { label: "Text only", weights: { wImg: 1, wEdge: 0, wShape: 0, wTxt: 1, wTags: 0.5 } },
};

export const PRESET_ORDER: readonly PresetName[] = ["sketch", "balanced", "text"];

export type Presets = Record<PresetName, { label: string; weights: Weights }>;

/**
 * The presets the server's defaults imply: "Sketch only" and "Text only" are its sketch and
 * text rows, "Balanced" the larger of its sketch+text and image rows view by view (so a view
 * without signal, e.g. a random-weight model's, stays at 0). Without defaults (an older
 * server), the built-in PRESETS.
 */
export function presetsFromInfo(defaults: SearchDefaults | null | undefined): Presets {
  const row = (kind: string): Weights | null => {
    const w: Partial<Record<string, number>> | undefined = defaults?.kinds[kind]?.weights;
    return w ? Object.fromEntries(WEIGHT_KEYS.map((k) => [k, clampWeight(w[k] ?? 0)])) as unknown as Weights : null;
  };
  const sketch = row("sketch");
  const text = row("text");
  const mixed = row("sketch+text");
  const image = row("image");
  if (!sketch || !text || !mixed) return PRESETS;
  const balanced = image
    ? (Object.fromEntries(WEIGHT_KEYS.map((k) => [k, Math.max(mixed[k], image[k])])) as unknown as Weights)
    : mixed;
  return {
    sketch: { label: PRESETS.sketch.label, weights: sketch },
    balanced: { label: PRESETS.balanced.label, weights: balanced },
    text: { label: PRESETS.text.label, weights: text },
  };
}

export const WEIGHT_MAX = 2;
export const DEFAULT_LIMIT = 24;

export function weightsEqual(a: Weights, b: Weights, eps = 1e-6): boolean {
  return WEIGHT_KEYS.every((k) => Math.abs(a[k] - b[k]) <= eps);
}

/** The preset these weights are exactly, or null when the user has moved a slider off it. */
export function matchPreset(w: Weights, presets: Presets = PRESETS): PresetName | null {
  return PRESET_ORDER.find((p) => weightsEqual(presets[p].weights, w)) ?? null;
}

export function clampWeight(v: number): number {
  if (!Number.isFinite(v)) return 0;
  return Math.min(WEIGHT_MAX, Math.max(0, Math.round(v * 100) / 100));
}

export interface QueryState {
  text: string;
  weights: Weights;
  tagsInclude: string[];
  tagsExclude: string[];
  rerank: boolean;
  positiveIds: string[];
  negativeIds: string[];
  limit: number;
}

export const initialQuery: QueryState = {
  text: "",
  weights: { ...PRESETS.balanced.weights },
  tagsInclude: [],
  tagsExclude: [],
  rerank: true,
  positiveIds: [],
  negativeIds: [],
  limit: DEFAULT_LIMIT,
};

/** The query's inputs that are not plain settings: the canvas and a dropped example image. */
export interface QueryInputs {
  /** PNG data URL of the sketch (white background), or null when the canvas is empty. */
  sketch: string | null;
  /** Data URL of the example image, or null. */
  image: string | null;
}

/** "cat, Dog  ,, red panda" → ["cat", "dog", "red panda"] (trimmed, lower-cased, de-duplicated). */
export function parseTags(input: string): string[] {
  const out: string[] = [];
  for (const part of input.split(",")) {
    const t = part.trim().toLowerCase().replace(/\s+/g, " ");
    if (t && !out.includes(t)) out.push(t);
  }
  return out;
}

/**
 * Zero the weights of views that have nothing to match in this query, so the
 * server is never asked to weigh an empty input: the edge and shape views need a
 * sketch or an example image, the image view the prompt or an example image, text and tags
 * the prompt. Library examples (positiveIds) carry their own stored vectors, so
 * with them every view is kept.
 */
export function effectiveWeights(w: Weights, has: { sketch: boolean; image: boolean; text: boolean; examples: boolean }): Weights {
  if (has.examples) return { ...w };
  return {
    wImg: has.text || has.image ? w.wImg : 0,
    wEdge: has.sketch || has.image ? w.wEdge : 0,
    wShape: has.sketch || has.image ? w.wShape : 0,
    wTxt: has.text ? w.wTxt : 0,
    wTags: has.text ? w.wTags : 0,
  };
}

export type BuildResult =
  | { kind: "request"; request: SearchRequest; key: string }
  | { kind: "empty"; reason: "no-input" | "zero-weights" };

/**
 * Build the search body from the state. `key` identifies the query without its
 * page cursor: two states with the same key ask the same question.
 */
export function buildSearchRequest(q: QueryState, inputs: QueryInputs): BuildResult {
  const text = q.text.trim();
  const has = {
    sketch: inputs.sketch !== null,
    image: inputs.image !== null,
    text: text.length > 0,
    examples: q.positiveIds.length > 0,
  };
  if (!has.sketch && !has.image && !has.text && !has.examples) return { kind: "empty", reason: "no-input" };
  const w = effectiveWeights(q.weights, has);
  if (WEIGHT_KEYS.every((k) => w[k] === 0)) return { kind: "empty", reason: "zero-weights" };
  const filter: SearchFilter | null =
    q.tagsInclude.length || q.tagsExclude.length
      ? { tagsAll: [...q.tagsInclude], tagsAny: [], tagsNone: [...q.tagsExclude] }
      : null;
  const request: SearchRequest = {
    queryText: has.text ? text : null,
    sketch: inputs.sketch,
    image: inputs.image,
    ...w,
    limit: q.limit,
    cursor: null,
    filter,
    rerank: q.rerank,
    positiveIds: [...q.positiveIds],
    negativeIds: [...q.negativeIds],
  };
  return { kind: "request", request, key: requestKey(request) };
}

/** A stable identity of a request, ignoring its page position. */
export function requestKey(r: SearchRequest): string {
  const { cursor: _c, offset: _o, ...rest } = r;
  void _c;
  void _o;
  return stableStringify(rest);
}

function stableStringify(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify(o[k])}`).join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

/** The next page of the same query. */
export function withCursor(r: SearchRequest, cursor: string): SearchRequest {
  return { ...r, cursor };
}

/** "More like this" / "not like this": an id is in at most one list. */
export function toggleExample(q: QueryState, id: string, list: "positive" | "negative"): QueryState {
  const pos = q.positiveIds.filter((x) => x !== id);
  const neg = q.negativeIds.filter((x) => x !== id);
  const already = list === "positive" ? q.positiveIds.includes(id) : q.negativeIds.includes(id);
  if (!already) (list === "positive" ? pos : neg).push(id);
  return { ...q, positiveIds: pos, negativeIds: neg };
}
