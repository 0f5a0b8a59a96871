import { AlertTriangle, Check, Loader2, ScanSearch, Trash2 } from "lucide-react";
import { useEffect, useId, useReducer, useState } from "react";
import { api, isAbort } from "@/api/client";
import type { DuplicateGroup, DuplicateReport } from "@/api/schema";
import { AuthImage } from "@/components/AuthImage";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { cn } from "@/lib/utils";
import { allGroups, groupKey, idsToDelete, pruneReport, selectionReducer, type DuplicateAction, type DuplicateSelection } from "@/state/duplicates";
import { describeError } from "@/state/errors";
import { ConfirmDialog } from "./ConfirmDialog";

/** Exact and near-duplicate groups: the keeper highlighted, the others marked for deletion. */
export function DuplicatesView({ library, onDeleted, onOpenImage }: { library: string; onDeleted: (ids: string[]) => void; onOpenImage: (url: string) => void }) {
  const thresholdId = useId();
  const [threshold, setThreshold] = useState("");
  const [report, setReport] = useState<DuplicateReport | null>(null);
  const [sel, dispatch] = useReducer(selectionReducer, {} as DuplicateSelection);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  const [confirm, setConfirm] = useState(false);
  const [deleting, setDeleting] = useState<{ done: number; total: number } | null>(null);

  useEffect(() => {
    const ctrl = new AbortController();
    const t = Number.parseFloat(threshold);
    setLoading(true);
    setError(null);
    api.duplicates({ library: library || null, threshold: Number.isFinite(t) ? t : null }, ctrl.signal).then(
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
    // The threshold applies on Scan (tick), not on every keystroke.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [library, tick]);

  const toDelete = idsToDelete(sel);
  const groups = allGroups(report);

  const deleteSelected = async () => {
    if (!report) return;
    const ids = toDelete;
    const gone: string[] = [];
    setDeleting({ done: 0, total: ids.length });
    let failure: unknown = null;
    for (const id of ids) {
      try {
        await api.deleteImage(id);
        gone.push(id);
      } catch (e) {
        failure = e;
        break;
      }
      setDeleting({ done: gone.length, total: ids.length });
    }
    setReport((r) => (r ? pruneReport(r, gone) : r));
    dispatch({ type: "deleted", ids: gone });
    if (gone.length) onDeleted(gone);
    setError(failure);
    setDeleting(null);
    setConfirm(false);
  };

  const problem = error ? describeError(error) : null;

  return (
    <div className="flex flex-col gap-3" data-testid="duplicates-view">
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
            onKeyDown={(e) => e.key === "Enter" && setTick((t) => t + 1)}
          />
        </div>
        <Button size="sm" variant="outline" onClick={() => setTick((t) => t + 1)} disabled={loading}>
          {loading ? <Loader2 className="animate-spin" /> : <ScanSearch />} Scan
        </Button>
        {report && (
          <span className="text-xs text-muted-foreground" data-testid="duplicates-summary">
            {report.scanned} scanned · {report.exact.length} exact, {report.near.length} near group{report.near.length === 1 ? "" : "s"} at ≥ {report.threshold}
          </span>
        )}
        <Button className="ml-auto" variant="destructive" size="sm" disabled={toDelete.length === 0 || deleting !== null} onClick={() => setConfirm(true)}>
          <Trash2 /> Delete {toDelete.length} selected
        </Button>
      </div>
      {problem && (
        <p role="alert" className="flex items-center gap-2 text-sm text-red-700">
          <AlertTriangle className="size-4" aria-hidden /> <b>{problem.title}:</b> {problem.message}
        </p>
      )}
      {report && groups.length === 0 && !loading && <p className="py-10 text-center text-sm text-muted-foreground">No duplicates at this threshold.</p>}
      <ul className="flex flex-col gap-3">
        {groups.map((g) => (
          <GroupCard key={groupKey(g)} group={g} sel={sel[groupKey(g)]} dispatch={dispatch} onOpenImage={onOpenImage} />
        ))}
      </ul>
      <ConfirmDialog
        open={confirm}
        title={`Delete ${toDelete.length} duplicate${toDelete.length === 1 ? "" : "s"}?`}
        confirmLabel={deleting ? `Deleting ${deleting.done}/${deleting.total}…` : "Delete"}
        busy={deleting !== null}
        onCancel={() => setConfirm(false)}
        onConfirm={() => void deleteSelected()}
      >
        The keepers stay. Deleted items leave the library; their files go only when the library owns them.
      </ConfirmDialog>
    </div>
  );
}

function GroupCard({
  group,
  sel,
  dispatch,
  onOpenImage,
}: {
  group: DuplicateGroup;
  sel: DuplicateSelection[string] | undefined;
  dispatch: (a: DuplicateAction) => void;
  onOpenImage: (url: string) => void;
}) {
  const key = groupKey(group);
  const keep = sel?.keep ?? group.keep;
  return (
    <li className="rounded-lg border bg-background p-2" data-testid="duplicate-group" data-kind={group.kind}>
      <div className="mb-2 flex items-center gap-2 text-xs">
        <Badge variant={group.kind === "exact" ? "destructive" : "warning"}>{group.kind}</Badge>
        <span className="text-muted-foreground">
          {group.members.length} items
          {group.minScore != null && group.maxScore != null && ` · cosine ${group.minScore.toFixed(3)}–${group.maxScore.toFixed(3)}`}
        </span>
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
                {m.score != null && ` · ${m.score.toFixed(3)}`}
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
