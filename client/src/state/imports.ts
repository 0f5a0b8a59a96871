/** Bulk imports: the job's progress as a reducer, and parsing what a person types. Pure. */
import type { ImportResult, Job } from "@/api/schema";

export type ImportPhase = "idle" | "uploading" | "queued" | "running" | "succeeded" | "failed" | "cancelled";

export interface ImportState {
  phase: ImportPhase;
  jobId: string | null;
  /** Files done and the total, as the job reports them. */
  done: number;
  total: number;
  result: ImportResult | null;
  /** The POST or a poll failed, or the job failed: what happened. */
  error: unknown;
  /** sha256 (hex) of each uploaded file → its name: failures name the stored, content-addressed file. */
  names: Record<string, string>;
}

export const initialImport: ImportState = { phase: "idle", jobId: null, done: 0, total: 0, result: null, error: null, names: {} };

export type ImportAction =
  | { type: "start" }
  /** The 202 answer or a later poll. */
  | { type: "job"; job: Job<ImportResult> }
  | { type: "error"; error: unknown }
  | { type: "names"; names: Record<string, string> }
  | { type: "reset" };

export function importReducer(state: ImportState, action: ImportAction): ImportState {
  switch (action.type) {
    case "start":
      return { ...initialImport, phase: "uploading" };
    case "reset":
      return initialImport;
    case "names":
      return { ...state, names: { ...state.names, ...action.names } };
    case "error":
      return { ...state, phase: "failed", error: action.error };
    case "job": {
      const { job } = action;
      // A poll of another job (an earlier import) must not overwrite this one.
      if (state.jobId !== null && job.id !== state.jobId) return state;
      if (state.phase === "succeeded" || state.phase === "cancelled" || (state.phase === "failed" && state.jobId === job.id)) return state;
      const p = job.progress;
      let total = state.total;
      let done = state.done;
      if (p && p.total >= 0) {
        // Progress only moves forward, unless the total changed (a ZIP unpacked into more files).
        done = p.total !== total ? p.step : Math.max(done, p.step);
        total = p.total;
      }
      const result = job.result ?? null;
      if (job.status === "succeeded" && result) {
        total = result.total ?? total;
        done = total;
      }
      const phase: ImportPhase = job.status === "succeeded" ? "succeeded" : job.status;
      const error = job.status === "failed" ? new Error(job.error?.message ?? "The import failed without a reason.") : null;
      return { ...state, phase, jobId: job.id, done: Math.min(done, total || done), total, result, error };
    }
  }
}

export function isImportActive(s: ImportState): boolean {
  return s.phase === "uploading" || s.phase === "queued" || s.phase === "running";
}

/** 0..1, or null while the total is not known (an indeterminate bar). */
export function importFraction(s: ImportState): number | null {
  if (s.phase === "succeeded") return 1;
  if (!(s.total > 0)) return null;
  return Math.min(1, Math.max(0, s.done / s.total));
}

export function describeImport(s: ImportState): string {
  switch (s.phase) {
    case "idle":
      return "";
    case "uploading":
      return "Uploading…";
    case "queued":
      return "Queued — waiting for a worker";
    case "running":
      return s.total > 0 ? `Importing — ${s.done} of ${s.total}` : "Importing…";
    case "succeeded": {
      const r = s.result;
      if (!r) return "Done";
      return `Done — ${r.ingested} imported, ${r.skipped} already in the library, ${r.failed.length} failed`;
    }
    case "failed":
      return "Import failed";
    case "cancelled":
      return "Import cancelled";
  }
}

/** http(s) URLs from pasted text: one per line (or separated by spaces/commas), deduplicated. */
export function parseUrls(text: string): { urls: string[]; rejected: string[] } {
  const urls: string[] = [];
  const rejected: string[] = [];
  for (const raw of text.split(/[\s,]+/)) {
    const s = raw.trim();
    if (!s) continue;
    let ok = false;
    try {
      const u = new URL(s);
      ok = u.protocol === "http:" || u.protocol === "https:";
    } catch {
      ok = false;
    }
    if (!ok) rejected.push(s);
    else if (!urls.includes(s)) urls.push(s);
  }
  return { urls, rejected };
}

/** Comma-separated tags, trimmed, deduplicated (case-insensitive), empty ones dropped. */
export function parseTags(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(",")) {
    const t = raw.trim();
    if (t && !out.some((o) => o.toLowerCase() === t.toLowerCase())) out.push(t);
  }
  return out;
}

const LIBRARY = /^[A-Za-z0-9_-]{1,64}$/;

/** Library names become folder names on the server: 1–64 letters, digits, - and _. */
export function isValidLibrary(name: string): boolean {
  return LIBRARY.test(name);
}

const IMAGE_EXT = /\.(png|jpe?g|gif|webp|bmp|tiff?)$/i;

/** What the import takes: images and ZIPs. */
export function isImportable(file: { name: string; type: string }): boolean {
  return file.type.startsWith("image/") || IMAGE_EXT.test(file.name) || /\.zip$/i.test(file.name) || file.type === "application/zip";
}

/**
 * The uploaded name of a failed file. The server stores uploads by content
 * (`imports/<library>/<sha[:2]>/<sha256>.<ext>`) and reports failures under that path;
 * the client knows each file's sha256, so it can say which file it was. null: unknown.
 */
export function uploadedName(path: string, names: Readonly<Record<string, string>>): string | null {
  const m = /(?:^|[^0-9a-f])([0-9a-f]{64})(?:\.[a-z0-9]+)?$/i.exec(path);
  return m ? (names[m[1]!.toLowerCase()] ?? null) : null;
}
