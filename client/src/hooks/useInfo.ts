import { useCallback, useEffect, useState } from "react";
import { api } from "@/api/client";
import type { InfoResponse } from "@/api/schema";

const SCAN_POLL_MS = 2000;

/** GET /info once (and on retry): what library and model the service runs. */
export function useInfo() {
  const [info, setInfo] = useState<InfoResponse | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const ctrl = new AbortController();
    api.info(ctrl.signal).then(
      (i) => {
        setInfo(i);
        setError(null);
      },
      (e: unknown) => {
        if (!ctrl.signal.aborted) setError(e);
      },
    );
    return () => ctrl.abort();
  }, [tick]);
  // While the server scans its image folder (AUTO_INGEST), ask again every few seconds so the
  // header's progress and image count move.
  const scanning = info?.autoIngest?.status === "scanning";
  useEffect(() => {
    if (!scanning) return;
    const timer = setTimeout(() => setTick((t) => t + 1), SCAN_POLL_MS);
    return () => clearTimeout(timer);
  }, [scanning, info]);
  const retry = useCallback(() => setTick((t) => t + 1), []);
  return { info, error, retry };
}
