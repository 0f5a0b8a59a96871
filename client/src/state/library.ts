/** The library browser's list: pages merged by cursor, stale answers dropped, deletions. Pure. */
import type { ImagePage, ImageSummary } from "@/api/schema";

export type LibraryStatus = "idle" | "loading" | "loadingMore" | "ready" | "error";

export interface LibraryState {
  status: LibraryStatus;
  /** Ticket of the listing these items belong to; older answers are dropped. */
  ticket: number;
  items: ImageSummary[];
  nextCursor: string | null;
  total: number | null;
  error: unknown;
  moreError: unknown;
}

export const initialLibrary: LibraryState = { status: "idle", ticket: 0, items: [], nextCursor: null, total: null, error: null, moreError: null };

export type LibraryAction =
  | { type: "start"; ticket: number }
  | { type: "startMore"; ticket: number }
  | { type: "page"; ticket: number; page: ImagePage; append: boolean }
  | { type: "fail"; ticket: number; error: unknown; append: boolean }
  | { type: "removed"; ids: readonly string[] };

export function libraryReducer(state: LibraryState, action: LibraryAction): LibraryState {
  switch (action.type) {
    case "start":
      if (action.ticket < state.ticket) return state;
      // Keep the old items on screen (dimmed) until the new first page arrives.
      return { ...state, status: "loading", ticket: action.ticket, error: null, moreError: null };
    case "startMore":
      if (action.ticket !== state.ticket || state.status !== "ready" || !state.nextCursor) return state;
      return { ...state, status: "loadingMore", moreError: null };
    case "page": {
      if (action.ticket !== state.ticket) return state;
      const items = action.append ? mergeItems(state.items, action.page.items) : action.page.items;
      return { ...state, status: "ready", items, nextCursor: action.page.nextCursor, total: action.page.total, error: null, moreError: null };
    }
    case "fail":
      if (action.ticket !== state.ticket) return state;
      return action.append ? { ...state, status: "ready", moreError: action.error } : { ...state, status: "error", items: [], nextCursor: null, error: action.error };
    case "removed": {
      const gone = new Set(action.ids);
      const items = state.items.filter((i) => !gone.has(i.id));
      const removed = state.items.length - items.length;
      return { ...state, items, total: state.total === null ? null : Math.max(0, state.total - removed) };
    }
  }
}

export function mergeItems(prev: readonly ImageSummary[], page: readonly ImageSummary[]): ImageSummary[] {
  const seen = new Set(prev.map((i) => i.id));
  const out = prev.slice();
  for (const i of page) {
    if (seen.has(i.id)) continue;
    seen.add(i.id);
    out.push(i);
  }
  return out;
}

export function canLoadMoreLibrary(s: LibraryState): boolean {
  return s.status === "ready" && s.nextCursor !== null && s.moreError === null;
}

/** Tags seen on the loaded items, most frequent first (for the tag filter's suggestions). */
export function tagCounts(items: readonly ImageSummary[], max = 24): { tag: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const i of items) for (const t of i.tags) counts.set(t, (counts.get(t) ?? 0) + 1);
  return [...counts.entries()]
    .map(([tag, count]) => ({ tag, count }))
    .sort((a, b) => b.count - a.count || a.tag.localeCompare(b.tag))
    .slice(0, max);
}
