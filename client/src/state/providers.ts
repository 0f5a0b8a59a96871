/** Provider availability (GET /info `providers`) and failed-job text, for the Generate button
 * and the job cards. Pure. */
import type { InfoResponse, Job } from "@/api/schema";

export interface ProviderGate {
  /** False when /info says the provider cannot run here; the button is disabled. */
  available: boolean;
  /** One line: why not, with the setting to change. Null when available. */
  reason: string | null;
  /** The documentation section that says how to fix it: a URL (DOCS_URL set on the server)
   * or null, when `docs` (the path in the repository) is all there is. */
  href: string | null;
  /** The documentation section as the server named it (a URL or docs/operations.md#…). */
  docs: string | null;
}

const OPEN: ProviderGate = { available: true, reason: null, href: null, docs: null };

/** Whether `chosen` (or, when "", the server's GENERATION_PROVIDER) can run. An /info that is
 * not loaded yet, or an older server without `providers`, blocks nothing. */
export function providerGate(info: InfoResponse | null, chosen: string): ProviderGate {
  const name = chosen || info?.generationProvider || "";
  const status = info?.providers?.[name];
  if (!status || status.available) return OPEN;
  return { available: false, reason: `${name} is unavailable: ${status.reason}`, href: docsHref(status.docs), docs: status.docs || null };
}

/** A link only for a URL: a repository path (`docs/operations.md#anchor`) has no page on this
 * server to open, so it is shown as text instead. */
export function docsHref(docs: string): string | null {
  return /^https?:\/\//.test(docs) ? docs : null;
}

export interface JobFailure {
  /** One line a person can act on. */
  message: string;
  /** The technical text behind it (exception, cause), shown behind a "details" toggle. */
  detail: string | null;
}

/** What a failed job says: the server's one-line message, its technical detail apart. */
export function jobFailure(job: Job | null): JobFailure | null {
  if (!job || job.status !== "failed") return null;
  const error = job.error;
  if (!error) return { message: "The job failed and gave no reason.", detail: null };
  return { message: error.message, detail: error.detail?.trim() ? error.detail : null };
}
