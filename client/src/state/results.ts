/** Search results state: pages merged by cursor, stale responses dropped. Pure reducer. */
import type { SearchHit, SearchResponse } from "@/api/schema";

export type ResultsStatus = "idle" | "loading" | "loadingMore" | "ready" | "error";

export interface ResultsState {
  status: ResultsStatus;
  /** Ticket of the search these results belong to (see state/async latestGuard). */
  ticket: number;
  /** The query key the results answer. */
  key: string | null;
  hits: SearchHit[];
  /** The ids each page added, in order (repeats dropped): the grid asks for one atlas per page. */
  pageIds: string[][];
  nextCursor: string | null;
  weights: SearchResponse["weights"] | null;
  timings: SearchResponse["timings"] | null;
  requestId: string | null;
  error: unknown;
  /** An error while loading a further page: the hits shown so far stay. */
  moreError: unknown;
}

export const initialResults: ResultsState = {
  status: "idle",
  ticket: 0,
  key: null,
  hits: [],
  pageIds: [],
  nextCursor: null,
  weights: null,
  timings: null,
  requestId: null,
  error: null,
  moreError: null,
};

export type ResultsAction =
  | { type: "start"; ticket: number; key: string }
  | { type: "startMore"; ticket: number }
  | { type: "page"; ticket: number; response: SearchResponse; append: boolean }
  | { type: "fail"; ticket: number; error: unknown; append: boolean }
  | { type: "clearMoreError"; ticket: number }
  | { type: "reset" };

/** Append a page, keeping the first occurrence of each id (a later page may repeat a hit). */
export function mergePage(prev: readonly SearchHit[], page: readonly SearchHit[]): SearchHit[] {
  const seen = new Set(prev.map((h) => h.id));
  const out = prev.slice();
  for (const h of page) {
    if (seen.has(h.id)) continue;
    seen.add(h.id);
    out.push(h);
  }
  return out;
}

export function resultsReducer(state: ResultsState, action: ResultsAction): ResultsState {
  switch (action.type) {
    case "reset":
      return { ...initialResults, ticket: state.ticket };
    case "start":
      if (action.ticket < state.ticket) return state;
      // Keep the old hits on screen (dimmed) until the new ones arrive.
      return { ...state, status: "loading", ticket: action.ticket, key: action.key, error: null, moreError: null };
    case "startMore":
      if (action.ticket !== state.ticket || state.status !== "ready" || !state.nextCursor) return state;
      return { ...state, status: "loadingMore", moreError: null };
    case "page": {
      if (action.ticket !== state.ticket) return state; // stale: a newer search owns the screen
      if (action.append && state.status !== "loadingMore") return state;
      const r = action.response;
      const hits = action.append ? mergePage(state.hits, r.hits) : mergePage([], r.hits);
      const added = hits.slice(action.append ? state.hits.length : 0).map((h) => h.id);
      const pageIds = action.append ? state.pageIds : [];
      return {
        ...state,
        status: "ready",
        hits,
        pageIds: added.length ? [...pageIds, added] : pageIds,
        // An empty page ends the list even if the server offers a cursor.
        nextCursor: r.hits.length === 0 ? null : r.nextCursor,
        weights: action.append ? state.weights : r.weights,
        timings: r.timings,
        requestId: r.requestId ?? null,
        error: null,
        moreError: null,
      };
    }
    case "clearMoreError":
      return action.ticket === state.ticket ? { ...state, moreError: null } : state;
    case "fail":
      if (action.ticket !== state.ticket) return state;
      if (action.append) return { ...state, status: "ready", moreError: action.error };
      return { ...state, status: "error", error: action.error, hits: [], pageIds: [], nextCursor: null };
  }
}

export function canLoadMore(s: ResultsState): boolean {
  return s.status === "ready" && s.nextCursor !== null && s.moreError === null;
}

/** Score differences below this are the same picture to the search (float noise). */
export const SIMILAR_EPSILON = 1e-4;

/**
 * Whether two hits are near-identical to the search: the same size (when known) and the same
 * score in every view and overall. A copy of a picture under another id scores exactly alike.
 */
export function nearIdentical(a: SearchHit, b: SearchHit): boolean {
  if ((a.width ?? null) !== (b.width ?? null) || (a.height ?? null) !== (b.height ?? null)) return false;
  if (Math.abs(a.score - b.score) > SIMILAR_EPSILON) return false;
  const views = Object.keys(a.views);
  if (views.length === 0 || views.length !== Object.keys(b.views).length) return false;
  return views.every((v) => {
    const x = a.views[v];
    const y = b.views[v];
    if (!x || !y) return false;
    const xr = x.raw ?? x.calibrated;
    const yr = y.raw ?? y.calibrated;
    return Math.abs(xr - yr) <= SIMILAR_EPSILON;
  });
}

/**
 * Near-identical hits in a row collapse under the first of them ("+1 similar"): for each
 * hit, the index of the hit it is folded under, or null when it is shown on its own. Pure.
 */
export function collapseSimilar(hits: readonly SearchHit[]): (number | null)[] {
  const leaders: (number | null)[] = [];
  hits.forEach((hit, i) => {
    const prev = i > 0 ? hits[i - 1] : undefined;
    const lead = i > 0 ? (leaders[i - 1] ?? i - 1) : null;
    leaders.push(prev && lead !== null && nearIdentical(prev, hit) ? lead : null);
  });
  return leaders;
}
