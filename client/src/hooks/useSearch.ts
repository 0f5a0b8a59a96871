import { useCallback, useEffect, useMemo, useReducer, useRef } from "react";
import { api, isAbort } from "@/api/client";
import type { SearchRequest } from "@/api/schema";
import { debounce, latestGuard } from "@/state/async";
import { type BuildResult, withCursor } from "@/state/query";
import { canLoadMore, initialResults, resultsReducer } from "@/state/results";

/** Quiet time after a stroke, a slider move or a keystroke before searching. */
export const SEARCH_DEBOUNCE_MS = 350;

/**
 * Search as the query settles: a new query key schedules a debounced search;
 * only the latest search may write results (older responses are dropped and
 * their requests aborted); `loadMore` follows `nextCursor`.
 */
export function useSearch(build: BuildResult) {
  const [state, dispatch] = useReducer(resultsReducer, initialResults);
  const guard = useRef(latestGuard());
  const abort = useRef<AbortController | null>(null);
  const current = useRef<SearchRequest | null>(null);
  const lastKey = useRef<string | null>(null);

  const run = useCallback(async (request: SearchRequest, key: string) => {
    abort.current?.abort();
    const ctrl = new AbortController();
    abort.current = ctrl;
    const ticket = guard.current.begin();
    lastKey.current = key;
    current.current = request;
    dispatch({ type: "start", ticket, key });
    try {
      const response = await api.search(request, ctrl.signal);
      if (guard.current.isLatest(ticket)) dispatch({ type: "page", ticket, response, append: false });
    } catch (error) {
      if (isAbort(error) || !guard.current.isLatest(ticket)) return;
      dispatch({ type: "fail", ticket, error, append: false });
    }
  }, []);

  const debounced = useMemo(() => debounce((r: SearchRequest, k: string) => void run(r, k), SEARCH_DEBOUNCE_MS), [run]);
  useEffect(() => () => debounced.cancel(), [debounced]);

  const key = build.kind === "request" ? build.key : null;
  const buildRef = useRef(build);
  buildRef.current = build;

  useEffect(() => {
    const b = buildRef.current;
    if (b.kind !== "request") {
      debounced.cancel();
      abort.current?.abort();
      guard.current.invalidate();
      lastKey.current = null;
      dispatch({ type: "reset" });
      return;
    }
    if (b.key === lastKey.current) {
      debounced.cancel();
      return;
    }
    debounced.call(b.request, b.key);
  }, [key, debounced]);

  /** Search now (the Search button, Enter in the prompt). */
  const searchNow = useCallback(() => {
    const b = buildRef.current;
    debounced.cancel();
    if (b.kind === "request") void run(b.request, b.key);
  }, [debounced, run]);

  const stateRef = useRef(state);
  stateRef.current = state;

  const loadMore = useCallback(async () => {
    const s = stateRef.current;
    const req = current.current;
    if (!canLoadMore(s) || !req || !s.nextCursor) return;
    const ticket = s.ticket;
    dispatch({ type: "startMore", ticket });
    stateRef.current = { ...s, status: "loadingMore" };
    try {
      const response = await api.search(withCursor(req, s.nextCursor), abort.current?.signal);
      if (guard.current.isLatest(ticket)) dispatch({ type: "page", ticket, response, append: true });
    } catch (error) {
      if (isAbort(error) || !guard.current.isLatest(ticket)) return;
      dispatch({ type: "fail", ticket, error, append: true });
    }
  }, []);

  const retryMore = useCallback(() => {
    dispatch({ type: "clearMoreError", ticket: stateRef.current.ticket });
  }, []);

  return { state, searchNow, loadMore, retryMore, pending: state.status === "loading" || debounced.pending() };
}
