import { AuthImage } from "@/components/AuthImage";
import { cn } from "@/lib/utils";
import { cellShade, type ShapedMatrix } from "@/state/coverage";
import { KIND_STYLE } from "./SubQueryChips";

function short(v: number): string {
  return v >= 1 ? "1" : v.toFixed(2).replace(/^0/, "");
}

export function refLabel(ref: { tags: string[]; path?: string | null; id: string }): string {
  return ref.tags.slice(0, 3).join(", ") || ref.path || ref.id.slice(0, 8);
}

/** refs × sub-queries, each cell shaded by the reference's score on that part of the prompt. */
export function CoverageMatrix({ matrix, onOpen }: { matrix: ShapedMatrix; onOpen?: (imageUrl: string) => void }) {
  const { columns, rows, threshold } = matrix;
  return (
    <div className="flex flex-col gap-1.5">
      <div className="overflow-x-auto">
        <table data-testid="coverage-matrix" className="border-separate border-spacing-0.5 text-[11px]" aria-label="Coverage: references × sub-queries">
          <thead>
            <tr>
              <th scope="col" className="w-14 align-bottom text-left font-medium text-muted-foreground">
                Ref
              </th>
              {columns.map((c) => (
                <th key={c.id} scope="col" className="w-8 align-bottom font-normal" title={`${c.index}. ${c.text} (${c.kind})${c.covered ? "" : " — not covered"}`}>
                  {/* The column shows its number; the parts are written out in full below the table. */}
                  <span className={cn("mx-auto flex flex-col items-center gap-0.5 font-medium", !c.covered && "text-red-700")}>
                    <span className={cn("inline-block size-1.5 rounded-full", KIND_STYLE[c.kind].dot)} aria-hidden />
                    {c.index}
                    <span className="sr-only">. {c.text}</span>
                  </span>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.ref.id} data-testid="complementary-ref" data-id={r.ref.id} data-role={r.ref.role}>
                <th scope="row" className="p-0 text-left font-normal">
                  <button
                    type="button"
                    className="block cursor-zoom-in rounded focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring"
                    onClick={() => onOpen?.(r.ref.imageUrl)}
                    aria-label={`Reference ${r.ref.rank}: ${refLabel(r.ref)}`}
                  >
                    <AuthImage src={r.ref.thumbUrl} alt={refLabel(r.ref)} className="size-12 rounded border bg-muted object-cover" loading="lazy" />
                  </button>
                </th>
                {r.cells.map((cell, c) => (
                  <td
                    key={cell.subQueryId}
                    className={cn("h-12 w-8 rounded text-center tabular-nums", cell.best && cell.value > 0 && "outline-2 -outline-offset-2 outline-amber-400", cell.covers ? "font-semibold" : "")}
                    style={cellShade(cell.strength)}
                    title={`${refLabel(r.ref)} on “${columns[c]?.text}”: ${cell.value.toFixed(3)}${cell.best ? " — informs this part best" : ""}`}
                    data-best={cell.best || undefined}
                  >
                    {short(cell.value)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <ol className="flex flex-col gap-0.5 text-[11px]" aria-label="Sub-queries" data-testid="coverage-parts">
        {columns.map((c) => (
          <li key={c.id} className={cn("flex items-baseline gap-1", !c.covered && "text-red-700")}>
            <span className={cn("inline-block size-1.5 shrink-0 rounded-full", KIND_STYLE[c.kind].dot)} aria-hidden />
            <span className="tabular-nums">{c.index}.</span>
            <span>
              {c.text} <span className="text-muted-foreground">({c.kind}{c.covered ? "" : ", not covered"})</span>
            </span>
          </li>
        ))}
      </ol>
      <p className="flex flex-wrap items-center gap-x-2 gap-y-0.5 text-[10px] text-muted-foreground">
        <span className="inline-flex items-center gap-1">
          <span className="inline-block h-2 w-8 rounded-sm bg-gradient-to-r from-indigo-600/10 to-indigo-600" aria-hidden /> score 0 → 1
        </span>
        <span>bold: ≥ {threshold} (covers)</span>
        <span className="inline-flex items-center gap-1">
          <span className="inline-block size-2 rounded-sm outline-2 outline-amber-400" aria-hidden /> informs it best
        </span>
      </p>
    </div>
  );
}
