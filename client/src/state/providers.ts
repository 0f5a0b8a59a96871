/** Provider availability (GET /info `providers`) and failed-job text, for the Generate button
 * and the job cards. Pure. */
import type { InfoResponse, Job } from "@/api/schema";

export interface ProviderGate {
  /** False when /info says the provider cannot run here; the button is disabled. */
  available: boolean;
  /** One line: why not, with the setting to change. Null when available. */
  reason: string | null;
  /** The documentation section that says how to fix it (null when available). */
  href: string | null;
}

const OPEN: ProviderGate = { available: true, reason: null, href: null };

/** Whether `chosen` (or, when "", the server's GENERATION_PROVIDER) can run. An /info that is
 * not loaded yet, or an older server without `providers`, blocks nothing. */
export function providerGate(info: InfoResponse | null, chosen: string): ProviderGate {
  const name = chosen || info?.generationProvider || "";
  const status = info?.providers?.[name];
  if (!status || status.available) return OPEN;
  return { available: false, reason: `${name} is unavailable: ${status.reason}`, href: docsHref(status.docs) };
}

/** A docs reference (`docs/operations.md#anchor`) as a link; absolute URLs pass through. */
export function docsHref(docs: string): string | null {
  if (!docs) return null;
  return /^https?:\/\//.test(docs) ? docs : `/${docs.replace(/^\/+/, "")}`;
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
