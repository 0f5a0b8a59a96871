import { useCallback, useEffect, useReducer, useState } from "react";
import { api, isAbort } from "@/api/client";
import type { LibraryInfo } from "@/api/schema";

/** GET /libraries while `enabled` (and again on `refresh`): the records the key may read. */
export function useLibraries(enabled: boolean) {
  const [libraries, setLibraries] = useState<LibraryInfo[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [tick, refresh] = useReducer((n: number) => n + 1, 0);
  useEffect(() => {
    if (!enabled) return;
    const ctrl = new AbortController();
    api.listLibraries(ctrl.signal).then(
      (list) => {
        setLibraries(Array.isArray(list?.libraries) ? list.libraries : []);
        setError(null);
      },
      (e: unknown) => {
        if (!isAbort(e) && !ctrl.signal.aborted) setError(e);
      },
    );
    return () => ctrl.abort();
  }, [enabled, tick]);
  return { libraries, error, refresh: useCallback(() => refresh(), []) };
}
