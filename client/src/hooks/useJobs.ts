import { useCallback, useEffect, useRef, useState } from "react";
import { api } from "@/api/client";
import type { GenerateRequest, GenerateResult, Job, JobResult } from "@/api/schema";
import { newKey } from "@/lib/images";
import { isTerminal, pollDelay } from "@/state/jobs";

export interface JobEntry<M = undefined, R extends JobResult = GenerateResult> {
  key: string;
  /** What the caller attached at submit time (e.g. the complementary answer of a grounded job). */
  meta?: M;
  job: Job<R> | null;
  /** The POST or a poll failed: what happened, for a person. */
  error: unknown;
  submittedAt: number;
}

/** Queues a job of one kind: the request, and the Idempotency-Key of this submission. */
export type StartJob<Req, R extends JobResult> = (req: Req, idempotencyKey: string) => Promise<Job<R>>;

const KEEP = 6;

/** Submit generation jobs and follow each one until it is done, failed or cancelled. */
export function useJobs<M = undefined>() {
  return useJobRunner<GenerateRequest, GenerateResult, M>(api.generate);
}

/**
 * Submit jobs of one kind with `start` (a stable function, e.g. one of `api`'s) and follow
 * each through GET /jobs/{id} until it is done, failed or cancelled.
 */
export function useJobRunner<Req, R extends JobResult, M = undefined>(start: StartJob<Req, R>) {
  const [entries, setEntries] = useState<JobEntry<M, R>[]>([]);
  const alive = useRef(true);
  useEffect(() => {
    alive.current = true;
    return () => {
      alive.current = false;
    };
  }, []);

  const update = useCallback((key: string, patch: Partial<JobEntry<M, R>>) => {
    setEntries((es) => es.map((e) => (e.key === key ? { ...e, ...patch } : e)));
  }, []);

  const follow = useCallback(
    async (key: string, job: Job<R>) => {
      let attempt = 0;
      let failures = 0;
      let current = job;
      while (alive.current && !isTerminal(current.status)) {
        await new Promise((r) => setTimeout(r, pollDelay(attempt++)));
        if (!alive.current) return;
        try {
          current = await api.job<R>(current.id);
          failures = 0;
          update(key, { job: current, error: null });
        } catch (error) {
          // A blip is retried; after a few in a row, say so and stop.
          if (++failures >= 5) {
            update(key, { error });
            return;
          }
        }
      }
    },
    [update],
  );

  const submit = useCallback(
    async (req: Req, meta?: M) => {
      const key = newKey();
      setEntries((es) => [{ key, meta, job: null, error: null, submittedAt: Date.now() }, ...es].slice(0, KEEP));
      try {
        const job = await start(req, key);
        update(key, { job });
        void follow(key, job);
      } catch (error) {
        update(key, { error });
      }
    },
    [follow, start, update],
  );

  const cancel = useCallback(
    async (key: string, id: string) => {
      try {
        const job = await api.cancelJob<R>(id);
        update(key, { job });
      } catch (error) {
        update(key, { error });
      }
    },
    [update],
  );

  const dismiss = useCallback((key: string) => setEntries((es) => es.filter((e) => e.key !== key)), []);

  return { entries, submit, cancel, dismiss };
}
