import { AlertTriangle, Loader2 } from "lucide-react";
import type { JobResult } from "@/api/schema";
import { Button } from "@/components/ui/button";
import type { JobEntry } from "@/hooks/useJobs";
import { cn } from "@/lib/utils";
import { describeError } from "@/state/errors";
import { isTerminal, progressFraction } from "@/state/jobs";
import { describeStoryJob } from "@/state/story";

export interface StoryJobLineProps<R extends JobResult> {
  entry: JobEntry<unknown, R>;
  what: "story" | "storyboard";
  onCancel: (key: string, id: string) => void;
}

/** Where a story or storyboard job stands: words, a progress bar while it runs, Cancel. */
export function StoryJobLine<R extends JobResult>({ entry, what, onCancel }: StoryJobLineProps<R>) {
  const { job, error } = entry;
  const status = job?.status ?? (error ? "failed" : "queued");
  const problem = error ? describeError(error) : null;
  const frac = job ? progressFraction(job) : null;
  return (
    <div className="flex flex-col gap-1" data-testid={`${what}-job`} data-status={status}>
      <div className="flex items-start gap-2 text-xs" aria-live="polite">
        {status === "failed" ? (
          <AlertTriangle className="size-4 shrink-0 text-red-600" aria-hidden />
        ) : !isTerminal(status) ? (
          <Loader2 className="size-4 shrink-0 animate-spin text-muted-foreground" aria-hidden />
        ) : null}
        <span className={cn("flex-1", status === "failed" && "text-red-700")}>
          {problem ? `${problem.title} — ${problem.message}` : job ? describeStoryJob(job, what) : "Submitting…"}
        </span>
        {job && !isTerminal(job.status) && (
          <Button size="sm" variant="ghost" className="h-6 px-1.5" onClick={() => onCancel(entry.key, job.id)}>
            Cancel
          </Button>
        )}
      </div>
      {job && !isTerminal(job.status) && (
        <div className="h-1.5 overflow-hidden rounded-full bg-muted" role="progressbar" aria-label={`${what} progress`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={frac === null ? undefined : Math.round(frac * 100)}>
          <div className={cn("h-full bg-primary transition-[width]", frac === null && "w-1/3 animate-pulse")} style={frac === null ? undefined : { width: `${frac * 100}%` }} />
        </div>
      )}
    </div>
  );
}
