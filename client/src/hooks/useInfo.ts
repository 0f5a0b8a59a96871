import { useCallback, useEffect, useState } from "react";
import { api } from "@/api/client";
import type { InfoResponse } from "@/api/schema";

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
  const retry = useCallback(() => setTick((t) => t + 1), []);
  return { info, error, retry };
}
