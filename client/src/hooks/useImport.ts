import { useCallback, useEffect, useReducer, useRef } from "react";
import { api } from "@/api/client";
import type { ImportOptions, ImportResult, Job } from "@/api/schema";
import { newKey } from "@/lib/images";
import { importReducer, initialImport } from "@/state/imports";
import { isTerminal, pollDelay } from "@/state/jobs";

/** sha256 hex of each (non-ZIP) file → its name; empty where the browser has no SubtleCrypto (plain http off localhost). */
async function contentNames(files: readonly File[]): Promise<Record<string, string>> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return {};
  const out: Record<string, string> = {};
  for (const f of files) {
    if (/\.zip$/i.test(f.name)) continue;
    try {
      const digest = new Uint8Array(await subtle.digest("SHA-256", await f.arrayBuffer()));
      out[Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("")] = f.name;
    } catch {
      // Naming failures is a nicety: go on without it.
    }
  }
  return out;
}

export type ImportSource = { kind: "files"; files: File[] } | { kind: "urls"; urls: string[] };

/** POST /libraries/{library}/imports, then follow /jobs/{id} until it ends. */
export function useImport(onFinished: (job: Job<ImportResult>) => void) {
  const [state, dispatch] = useReducer(importReducer, initialImport);
  const run = useRef(0);
  const finished = useRef(onFinished);
  finished.current = onFinished;
  useEffect(
    () => () => {
      run.current++; // stop polling when the dialog goes away
    },
    [],
  );

  const submit = useCallback(async (library: string, source: ImportSource, tags: string[], options: ImportOptions = {}) => {
    const mine = ++run.current;
    dispatch({ type: "start" });
    if (source.kind === "files") {
      const names = await contentNames(source.files);
      if (mine !== run.current) return;
      dispatch({ type: "names", names });
    }
    let job: Job<ImportResult>;
    try {
      const key = newKey();
      job =
        source.kind === "files"
          ? await api.importFiles(library, source.files, tags, key, options)
          : await api.importUrls(library, source.urls, tags, key, options);
    } catch (error) {
      if (mine === run.current) dispatch({ type: "error", error });
      return;
    }
    if (mine !== run.current) return;
    dispatch({ type: "job", job });
    let attempt = 0;
    let failures = 0;
    while (!isTerminal(job.status)) {
      await new Promise((r) => setTimeout(r, pollDelay(attempt++)));
      if (mine !== run.current) return;
      try {
        job = await api.importJob(job.id);
        failures = 0;
      } catch (error) {
        if (++failures >= 5) {
          if (mine === run.current) dispatch({ type: "error", error });
          return;
        }
        continue;
      }
      if (mine !== run.current) return;
      dispatch({ type: "job", job });
    }
    finished.current(job);
  }, []);

  const reset = useCallback(() => {
    run.current++;
    dispatch({ type: "reset" });
  }, []);

  return { state, submit, reset };
}
