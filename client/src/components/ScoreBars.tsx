import type { SearchHit, ViewScore } from "@/api/schema";
import { cn } from "@/lib/utils";

/** The views a hit's scores are shown for (the keys of `hit.views` this client knows). */
export type ViewName = "image" | "edge" | "text" | "shape" | "tags";

export const VIEWS: readonly { view: ViewName; label: string; short: string; bar: string }[] = [
  { view: "image", label: "Image", short: "Img", bar: "bg-view-image" },
  { view: "edge", label: "Lines", short: "Edge", bar: "bg-view-edge" },
  { view: "shape", label: "Shape", short: "Shp", bar: "bg-view-shape" },
  { view: "text", label: "Text", short: "Txt", bar: "bg-view-text" },
  { view: "tags", label: "Tags", short: "Tag", bar: "bg-view-tags" },
];

function value(v: ViewScore): number {
  const x = v.calibrated ?? v.raw ?? 0;
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}

function fmt(x: number | null | undefined): string {
  return typeof x === "number" && Number.isFinite(x) ? x.toFixed(2) : "–";
}

/** Why a hit ranked: its total as a bar stacked from each view's weighted share, and each view's own score. */
export function ScoreBars({ hit, large = false }: { hit: SearchHit; large?: boolean }) {
  const views = VIEWS.flatMap((v) => {
    const s = hit.views[v.view];
    return s ? [{ ...v, s }] : [];
  });
  const contributions = views.map((v) => ({ ...v, c: value(v.s) * Math.max(0, v.s.weight) }));
  const sumC = contributions.reduce((a, v) => a + v.c, 0);
  const total = Math.min(1, Math.max(0, hit.score));
  const summary = views.map((v) => `${v.label} ${fmt(v.s.calibrated ?? v.s.raw)} × ${fmt(v.s.weight)}`).join(", ");

  return (
    <div className={cn("flex flex-col", large ? "gap-2" : "gap-1")} aria-label={`Score ${fmt(hit.score)}: ${summary}`} role="img">
      <div className="flex items-center gap-1.5" title={`Total ${fmt(hit.score)}`}>
        <div className={cn("flex flex-1 overflow-hidden rounded-full bg-muted", large ? "h-2.5" : "h-1.5")}>
          {sumC > 0 ? (
            contributions.map((v) => (
              <div key={v.view} className={cn("h-full", v.bar)} style={{ width: `${(total * v.c * 100) / sumC}%` }} />
            ))
          ) : (
            <div className="h-full bg-foreground/60" style={{ width: `${total * 100}%` }} />
          )}
        </div>
        <span className={cn("tabular-nums text-foreground/80", large ? "text-sm" : "text-[10px]")}>{fmt(hit.score)}</span>
      </div>
      <div className={cn(large ? "grid grid-cols-1 gap-y-1.5" : "flex gap-x-1.5")}>
        {views.map((v) => (
          <div
            key={v.view}
            className={cn("flex min-w-0 items-center gap-1", !large && "flex-1")}
            title={`${v.label}: calibrated ${fmt(v.s.calibrated)}, raw ${fmt(v.s.raw)}, weight ${fmt(v.s.weight)}`}
          >
            <span className={cn("shrink-0 text-muted-foreground", large ? "w-12 text-xs" : "text-[9px] leading-none")}>{large ? v.label : v.short}</span>
            <div className={cn("flex-1 overflow-hidden rounded-full bg-muted", large ? "h-2" : "h-1")}>
              {/* An unweighted view's bar is faded; its label stays readable (contrast). */}
              <div className={cn("h-full", v.bar, v.s.weight <= 0 && "opacity-40")} style={{ width: `${value(v.s) * 100}%` }} />
            </div>
            {large && (
              <span className="w-36 whitespace-nowrap text-right text-xs tabular-nums text-muted-foreground">
                {fmt(v.s.calibrated)} <span>(raw {fmt(v.s.raw)})</span> × {fmt(v.s.weight)}
              </span>
            )}
          </div>
        ))}
      </div>
    </div>
  );
}
