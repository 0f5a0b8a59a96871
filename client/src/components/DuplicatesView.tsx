import { AlertTriangle, Check, Loader2, RotateCcw, ScanSearch, Trash2 } from "lucide-react";
import { useCallback, useEffect, useId, useReducer, useRef, useState } from "react";
import { api, isAbort } from "@/api/client";
import type { DuplicateGroup, DuplicateReport, DuplicateScanResult, Job, TrashList } from "@/api/schema";
import { AuthImage } from "@/components/AuthImage";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { useInfo } from "@/hooks/useInfo";
import { cn } from "@/lib/utils";
import {
  allGroups,
  confirmMatches,
  groupKey,
  groupReason,
  idsToDelete,
  needsTypedConfirm,
  pruneReport,
  restoreWindow,
  selectionReducer,
  type DuplicateAction,
  type DuplicateSelection,
} from "@/state/duplicates";
import { describeError } from "@/state/errors";
import { isTerminal, pollDelay, progressFraction } from "@/state/jobs";
import { ConfirmDialog } from "./ConfirmDialog";

type ScanJob = Job<DuplicateScanResult>;

/**
 * Exact and near-duplicate groups. Exact groups come with the report; near groups come from a
 * scan the person starts (a job with progress). Nothing starts ticked: each group says why it
 * is a group, and the person picks what goes. Deletes go to the trash, restorable below.
 */
export function DuplicatesView({ library, onDeleted, onOpenImage }: { library: string; onDeleted: (ids: string[]) => void; onOpenImage: (url: string) => void }) {
  const thresholdId = useId();
  const typedId = useId();
  const { info } = useInfo();
  const [threshold, setThreshold] = useState("");
  const [report, setReport] = useState<DuplicateReport | null>(null);
  const [sel, dispatch] = useReducer(selectionReducer, {} as DuplicateSelection);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  const [scan, setScan] = useState<ScanJob | null>(null);
  const [confirm, setConfirm] = useState(false);
  const [typed, setTyped] = useState("");
  const [deleting, setDeleting] = useState(false);
  const [trash, setTrash] = useState<TrashList | null>(null);
  const [trashTick, setTrashTick] = useState(0);
  const alive = useRef(true);

  useEffect(() => {
    alive.current = true;
    return () => {
      alive.current = false;
    };
  }, []);

  useEffect(() => {
    const ctrl = new AbortController();
    setLoading(true);
    setError(null);
    api.duplicates({ library: library || null }, ctrl.signal).then(
      (r) => {
        setReport(r);
        dispatch({ type: "init", report: r });
        setLoading(false);
      },
      (e: unknown) => {
        if (isAbort(e)) return;
        setError(e);
        setLoading(false);
      },
    );
    return () => ctrl.abort();
  }, [library, tick]);

  useEffect(() => {
    const ctrl = new AbortController();
    api.trash(ctrl.signal).then(
      (t) => setTrash(t),
      (e: unknown) => {
        if (!isAbort(e)) setTrash(null);
      },
    );
    return () => ctrl.abort();
  }, [trashTick]);

  const startScan = useCallback(async () => {
    const t = Number.parseFloat(threshold);
    setError(null);
    try {
      let job = await api.scanDuplicates({ library: library || null, threshold: Number.isFinite(t) ? t : null });
      setScan(job);
      let attempt = 0;
      while (alive.current && !isTerminal(job.status)) {
        await new Promise((r) => setTimeout(r, pollDelay(attempt++)));
        job = await api.scanJob(job.id);
        if (alive.current) setScan(job);
      }
      if (job.status === "failed") setError(new Error(job.error?.message ?? "the scan failed"));
      if (alive.current) setTick((n) => n + 1);
    } catch (e) {
      setError(e);
    } finally {
      if (alive.current) setScan(null);
    }
  }, [library, threshold]);

  const toDelete = idsToDelete(sel);
  const groups = allGroups(report);
  const typedNeeded = needsTypedConfirm(toDelete.length);
  const typedOk = !typedNeeded || confirmMatches(typed, toDelete.length);
  const nearScan = report?.nearScan ?? null;
  const nearOff = nearScan?.state === "off";
  const randomWeights = info?.running.randomWeights ?? false;
  const scanning = scan !== null;
  const fraction = scan ? progressFraction(scan as Job) : null;

  const deleteSelected = async () => {
    if (!report || !typedOk) return;
    const ids = toDelete;
    setDeleting(true);
    try {
      const r = await api.deleteImages(ids, typedNeeded ? ids.length : null);
      const gone = r.deleted.map((d) => d.id);
      setReport((rep) => (rep ? pruneReport(rep, gone) : rep));
      dispatch({ type: "deleted", ids: gone });
      if (gone.length) onDeleted(gone);
      setError(null);
    } catch (e) {
      setError(e);
    }
    setDeleting(false);
    setConfirm(false);
    setTyped("");
    setTrashTick((n) => n + 1);
  };

  const restore = async (id: string) => {
    try {
      await api.restoreImage(id);
      setTrashTick((n) => n + 1);
      setTick((n) => n + 1);
    } catch (e) {
      setError(e);
    }
  };

  const problem = error ? describeError(error) : null;

  return (
    <div className="flex flex-col gap-3" data-testid="duplicates-view">
      {nearOff && (
        <p role="status" data-testid="duplicates-random-weights" className="flex items-start gap-2 rounded-md border border-amber-300 bg-amber-50 p-2 text-sm text-amber-900">
          <AlertTriangle className="mt-0.5 size-4 shrink-0" aria-hidden /> <span><b>Near-duplicate scans are off.</b> {nearScan?.reason}</span>
        </p>
      )}
      {!nearOff && randomWeights && (
        <p role="status" data-testid="duplicates-random-weights" className="flex items-start gap-2 rounded-md border border-amber-300 bg-amber-50 p-2 text-sm text-amber-900">
          <AlertTriangle className="mt-0.5 size-4 shrink-0" aria-hidden />
          <span>
            <b>The image model has random weights:</b> image similarity says nothing about what the pictures show, so near groups are not duplicates. Check every picture before deleting.
          </span>
        </p>
      )}
      <div className="flex flex-wrap items-end gap-2">
        <div className="flex flex-col gap-1.5">
          <Label htmlFor={thresholdId}>Near threshold (cosine)</Label>
          <Input
            id={thresholdId}
            type="number"
            min={0}
            max={1}
            step={0.01}
            className="h-8 w-28"
            value={threshold}
            placeholder={report ? String(report.threshold) : "server default"}
            onChange={(e) => setThreshold(e.target.value)}
            onKeyDown={(e) => e.key === "Enter" && !nearOff && !scanning && void startScan()}
            disabled={nearOff}
          />
        </div>
        <Button size="sm" variant="outline" onClick={() => void startScan()} disabled={loading || scanning || nearOff} data-testid="duplicates-scan">
          {scanning ? <Loader2 className="animate-spin" /> : <ScanSearch />} Scan for near duplicates
        </Button>
        {scan && (
          <span className="flex items-center gap-2 text-xs text-muted-foreground" data-testid="duplicates-scan-progress">
            <progress className="h-2 w-32" max={1} value={fraction ?? undefined} aria-label="Scan progress" />
            {scan.progress && scan.progress.total > 0 ? `${scan.progress.step} / ${scan.progress.total}` : scan.status}
          </span>
        )}
        {report && (
          <span className="text-xs text-muted-foreground" data-testid="duplicates-summary">
            {report.scanned} items · {report.exact.length} exact, {report.near.length} near group{report.near.length === 1 ? "" : "s"}
            {nearScan?.state === "succeeded" ? ` at ≥ ${report.threshold}` : nearScan?.state === "none" ? " (no near scan yet)" : ""}
          </span>
        )}
        <Button className="ml-auto" variant="destructive" size="sm" disabled={toDelete.length === 0 || deleting} onClick={() => setConfirm(true)} data-testid="duplicates-delete">
          <Trash2 /> Delete {toDelete.length} selected
        </Button>
      </div>
      {nearScan?.stale && (
        <p role="status" className="text-xs text-amber-800" data-testid="duplicates-stale">
          {nearScan.reason ?? "The library changed since this scan."}
        </p>
      )}
      {problem && (
        <p role="alert" className="flex items-center gap-2 text-sm text-red-700">
          <AlertTriangle className="size-4" aria-hidden /> <b>{problem.title}:</b> {problem.message}
        </p>
      )}
      {report && groups.length === 0 && !loading && <p className="py-10 text-center text-sm text-muted-foreground">No duplicate groups.</p>}
      <ul className="flex flex-col gap-3">
        {groups.map((g) => (
          <GroupCard key={groupKey(g)} group={g} threshold={report?.threshold ?? 0} sel={sel[groupKey(g)]} dispatch={dispatch} onOpenImage={onOpenImage} />
        ))}
      </ul>
      {trash && trash.items.length > 0 && <TrashSection trash={trash} onRestore={(id) => void restore(id)} />}
      <ConfirmDialog
        open={confirm}
        title={`Move ${toDelete.length} item${toDelete.length === 1 ? "" : "s"} to the trash?`}
        confirmLabel={deleting ? "Deleting…" : "Delete"}
        busy={deleting}
        confirmDisabled={!typedOk}
        onCancel={() => {
          setConfirm(false);
          setTyped("");
        }}
        onConfirm={() => void deleteSelected()}
      >
        <p>The keepers stay. Deleted items leave the library and can be restored from the trash{trash ? ` for ${Math.round(trash.ttlS / 3600)} h` : ""}.</p>
        {typedNeeded && (
          <div className="mt-2 flex flex-col gap-1.5">
            <Label htmlFor={typedId}>
              Type {toDelete.length} (or “delete”) to confirm
            </Label>
            <Input id={typedId} value={typed} autoComplete="off" onChange={(e) => setTyped(e.target.value)} data-testid="duplicates-confirm-count" />
          </div>
        )}
      </ConfirmDialog>
    </div>
  );
}

function TrashSection({ trash, onRestore }: { trash: TrashList; onRestore: (id: string) => void }) {
  return (
    <section className="rounded-lg border bg-background p-2" data-testid="trash" aria-labelledby="trash-heading">
      <h3 id="trash-heading" className="mb-2 text-sm font-medium">
        Trash ({trash.total})
      </h3>
      <ul className="flex flex-wrap gap-2">
        {trash.items.map((t) => (
          <li key={t.id} data-testid="trash-item" data-id={t.id} className="flex w-32 flex-col gap-1 rounded-md border p-1 text-[11px]">
            <AuthImage src={t.thumbUrl} alt={t.path ?? t.id} className="aspect-square w-full rounded bg-muted object-contain opacity-70" loading="lazy" />
            <span className="truncate" title={t.path ?? t.id}>
              {t.path?.split("/").pop() ?? t.id.slice(0, 8)}
            </span>
            <span className="text-muted-foreground">{restoreWindow(t.purgeAt)}</span>
            <Button size="sm" variant="outline" className="h-7" onClick={() => onRestore(t.id)} aria-label={`Restore ${t.path ?? t.id}`}>
              <RotateCcw /> Restore
            </Button>
          </li>
        ))}
      </ul>
    </section>
  );
}

function GroupCard({
  group,
  threshold,
  sel,
  dispatch,
  onOpenImage,
}: {
  group: DuplicateGroup;
  threshold: number;
  sel: DuplicateSelection[string] | undefined;
  dispatch: (a: DuplicateAction) => void;
  onOpenImage: (url: string) => void;
}) {
  const key = groupKey(group);
  const keep = sel?.keep ?? group.keep;
  return (
    <li className="rounded-lg border bg-background p-2" data-testid="duplicate-group" data-kind={group.kind}>
      <div className="mb-2 flex flex-wrap items-center gap-2 text-xs">
        <Badge variant={group.kind === "exact" ? "destructive" : "warning"}>{group.kind}</Badge>
        <span className="text-muted-foreground" data-testid="duplicate-reason">
          {group.members.length} items · {groupReason(group, threshold)}
        </span>
        <button
          type="button"
          className="ml-auto cursor-pointer text-muted-foreground underline-offset-2 hover:underline"
          onClick={() => dispatch({ type: "markOthers", group: key, members: group.members.map((m) => m.id) })}
        >
          mark all but the keeper
        </button>
      </div>
      <ul className="flex flex-wrap gap-2">
        {group.members.map((m) => {
          const isKeep = m.id === keep;
          const marked = sel?.remove.includes(m.id) ?? false;
          return (
            <li
              key={m.id}
              data-testid="duplicate-member"
              data-id={m.id}
              data-keep={isKeep || undefined}
              className={cn("flex w-32 flex-col gap-1 rounded-md border p-1 text-[11px]", isKeep ? "border-emerald-500 ring-2 ring-emerald-500" : marked && "border-red-300 bg-red-50")}
            >
              <button type="button" className="cursor-zoom-in" onClick={() => onOpenImage(`/image/${m.id}`)} aria-label={`Open ${m.path ?? m.id}`}>
                <AuthImage src={`/thumb/${m.id}`} alt={m.path ?? m.id} className={cn("aspect-square w-full rounded bg-muted object-contain", marked && "opacity-60")} loading="lazy" />
              </button>
              <span className="truncate" title={m.path ?? m.id}>
                {m.path?.split("/").pop() ?? m.id.slice(0, 8)}
              </span>
              <span className="text-muted-foreground">
                {m.width && m.height ? `${m.width}×${m.height}` : "?"}
                {m.library && ` · ${m.library}`}
                {m.score != null && ` · sim ${m.score.toFixed(3)}`}
              </span>
              {isKeep ? (
                <span className="flex items-center gap-1 font-medium text-emerald-700">
                  <Check className="size-3" aria-hidden /> Keep
                </span>
              ) : (
                <div className="flex items-center justify-between gap-1">
                  <label className="flex cursor-pointer items-center gap-1">
                    <input type="checkbox" checked={marked} onChange={() => dispatch({ type: "toggle", group: key, id: m.id })} aria-label={`Delete ${m.path ?? m.id}`} />
                    delete
                  </label>
                  <button type="button" className="cursor-pointer text-muted-foreground underline-offset-2 hover:underline" onClick={() => dispatch({ type: "keep", group: key, id: m.id })}>
                    keep this
                  </button>
                </div>
              )}
            </li>
          );
        })}
      </ul>
    </li>
  );
}
