import { useCallback, useEffect, useReducer, useRef } from "react";
import { api, isAbort } from "@/api/client";
import { latestGuard } from "@/state/async";
import { canLoadMoreLibrary, initialLibrary, libraryReducer } from "@/state/library";

export const LIBRARY_PAGE = 60;

/** GET /images for a library and a tag: first page on change (older answers dropped), `nextCursor` paging. */
export function useLibrary(library: string, tag: string, enabled: boolean) {
  const [state, dispatch] = useReducer(libraryReducer, initialLibrary);
  const guard = useRef(latestGuard());
  const abort = useRef<AbortController | null>(null);
  const stateRef = useRef(state);
  stateRef.current = state;
  const query = useRef({ library, tag });
  const [tick, bump] = useReducer((n: number) => n + 1, 0);

  useEffect(() => {
    if (!enabled) return;
    query.current = { library, tag };
    abort.current?.abort();
    const ctrl = new AbortController();
    abort.current = ctrl;
    const ticket = guard.current.begin();
    dispatch({ type: "start", ticket });
    api.listImages({ library: library || null, tag: tag || null, limit: LIBRARY_PAGE }, ctrl.signal).then(
      (page) => guard.current.isLatest(ticket) && dispatch({ type: "page", ticket, page, append: false }),
      (error: unknown) => {
        if (!isAbort(error) && guard.current.isLatest(ticket)) dispatch({ type: "fail", ticket, error, append: false });
      },
    );
    return () => ctrl.abort();
  }, [library, tag, enabled, tick]);

  const loadMore = useCallback(async () => {
    const s = stateRef.current;
    if (!canLoadMoreLibrary(s) || !s.nextCursor) return;
    const ticket = s.ticket;
    dispatch({ type: "startMore", ticket });
    stateRef.current = { ...s, status: "loadingMore" };
    const { library: lib, tag: t } = query.current;
    try {
      const page = await api.listImages({ library: lib || null, tag: t || null, cursor: s.nextCursor, limit: LIBRARY_PAGE }, abort.current?.signal);
      if (guard.current.isLatest(ticket)) dispatch({ type: "page", ticket, page, append: true });
    } catch (error) {
      if (!isAbort(error) && guard.current.isLatest(ticket)) dispatch({ type: "fail", ticket, error, append: true });
    }
  }, []);

  const removed = useCallback((ids: readonly string[]) => dispatch({ type: "removed", ids }), []);

  return { state, loadMore, reload: bump, removed };
}
