/** Generation job helpers: what to say about a job, when to stop polling. Pure. */
import type { Job, JobStatus, JobView } from "@/api/schema";

export const TERMINAL: readonly JobStatus[] = ["succeeded", "failed", "cancelled"];

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL.includes(status);
}

/** 0..1 when the job reports steps, null when it does not (show an indeterminate bar). */
export function progressFraction(job: Pick<JobView, "status" | "progress">): number | null {
  if (job.status === "succeeded") return 1;
  const p = job.progress;
  if (!p || !(p.total > 0)) return null;
  return Math.min(1, Math.max(0, p.step / p.total));
}

export function describeJob(job: Job): string {
  switch (job.status) {
    case "queued":
      return "Queued — waiting for the generator";
    case "running":
      return job.progress && job.progress.total > 0 ? `Running — step ${job.progress.step} of ${job.progress.total}` : "Running…";
    case "succeeded": {
      const n = job.result?.images.length ?? 0;
      const by = job.result?.provider ? ` by ${job.result.provider}` : "";
      return `Done — ${n} image${n === 1 ? "" : "s"}${by}`;
    }
    case "failed":
      return `Failed — ${job.error?.message ?? "the generator gave no reason"}`;
    case "cancelled":
      return "Cancelled";
  }
}

/** Poll fast at first, then back off: 400 ms, 600, 900 … up to 2 s. */
export function pollDelay(attempt: number): number {
  return Math.min(2000, Math.round(400 * Math.pow(1.5, Math.max(0, attempt))));
}
