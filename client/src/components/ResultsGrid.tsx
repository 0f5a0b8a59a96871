import { AlertTriangle, ImageOff, Loader2, PencilLine, SlidersHorizontal } from "lucide-react";
import { useEffect, useMemo, useRef, useState } from "react";
import type { SearchHit } from "@/api/schema";
import { Button } from "@/components/ui/button";
import { useAtlas } from "@/hooks/useAtlas";
import { describeError } from "@/state/errors";
import { columnCount, masonryColumns } from "@/state/masonry";
import type { BuildResult } from "@/state/query";
import { canLoadMore, type ResultsState } from "@/state/results";
import { ResultCard, type HitActions } from "./ResultCard";

export interface ResultsGridProps extends HitActions {
  build: BuildResult;
  results: ResultsState;
  libraryEmpty: boolean;
  refIds: ReadonlySet<string>;
  positiveIds: readonly string[];
  negativeIds: readonly string[];
  onLoadMore: () => void;
  onRetry: () => void;
  onRetryMore: () => void;
}

function useWidth<T extends HTMLElement>() {
  const ref = useRef<T>(null);
  const [width, setWidth] = useState(0);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const ro = new ResizeObserver((entries) => setWidth(entries[0]?.contentRect.width ?? 0));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  return [ref, width] as const;
}

export function ResultsGrid(props: ResultsGridProps) {
  const { build, results, libraryEmpty, refIds, positiveIds, negativeIds, onLoadMore, onRetry, onRetryMore } = props;
  const [ref, width] = useWidth<HTMLDivElement>();
  const sentinel = useRef<HTMLDivElement>(null);
  const n = columnCount(width, 168, 6);
  const columns = useMemo(() => masonryColumns(results.hits, n), [results.hits, n]);
  const more = canLoadMore(results);
  // Image width inside a card: the column less the 10 px gaps, the card's padding and border.
  const cardWidth = width > 0 ? (width - (n - 1) * 10) / n - 14 : 0;
  const thumbFor = useAtlas(results.pageIds, cardWidth);

  // Infinite scroll: a fresh observer after each page fires at once if the end is still in view.
  useEffect(() => {
    const el = sentinel.current;
    if (!el || !more) return;
    const io = new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && onLoadMore(), { rootMargin: "600px 0px" });
    io.observe(el);
    return () => io.disconnect();
  }, [more, results.hits.length, onLoadMore]);

  let empty: React.ReactNode = null;
  if (build.kind === "empty" && build.reason === "no-input") {
    empty = (
      <EmptyState icon={<PencilLine />} title="Draw, type or drop an image to search">
        Strokes on the canvas search by line structure; a prompt searches by look, caption and tags; a dropped or pasted picture searches by example.
      </EmptyState>
    );
  } else if (build.kind === "empty") {
    empty = (
      <EmptyState icon={<SlidersHorizontal />} title="Every weight that applies is zero">
        The views your inputs can match all have weight 0. Raise a slider or pick a preset.
      </EmptyState>
    );
  } else if (results.status === "error") {
    const p = describeError(results.error);
    empty = (
      <EmptyState icon={<AlertTriangle className="text-red-600" />} title={p.title} role="alert">
        <span className="block">{p.message}</span>
        {p.code && <code className="mt-1 block text-[11px] opacity-70">{p.code}</code>}
        <Button size="sm" variant="outline" className="mt-3" onClick={onRetry}>
          Try again
        </Button>
      </EmptyState>
    );
  } else if (results.status === "ready" && results.hits.length === 0) {
    empty = (
      <EmptyState icon={<ImageOff />} title={libraryEmpty ? "The library is empty" : "No results"}>
        {libraryEmpty
          ? "No images have been ingested yet. Start the server with AUTO_INGEST=true or run qdrant/embed_and_upsert.py."
          : "Nothing matched. Loosen the tag filters, remove 'not like this' examples, or change the weights."}
      </EmptyState>
    );
  }

  const loadingFirst = results.status === "loading" && results.hits.length === 0;
  const refreshing = results.status === "loading" && results.hits.length > 0;

  return (
    <div ref={ref} className="relative" aria-busy={results.status === "loading" || results.status === "loadingMore"}>
      {empty}
      {loadingFirst && <SkeletonGrid columns={n} />}
      {!empty && results.hits.length > 0 && (
        <div className="flex items-start gap-2.5 transition-opacity data-[refreshing=true]:opacity-50" data-refreshing={refreshing} data-testid="results-grid">
          {columns.map((col, c) => (
            <div key={c} className="flex min-w-0 flex-1 flex-col gap-2.5">
              {col.map((i) => {
                const hit = results.hits[i] as SearchHit;
                return (
                  <ResultCard
                    key={hit.id}
                    hit={hit}
                    rank={i + 1}
                    thumb={thumbFor(hit.id)}
                    isRef={refIds.has(hit.id)}
                    mark={positiveIds.includes(hit.id) ? "positive" : negativeIds.includes(hit.id) ? "negative" : null}
                    onOpen={props.onOpen}
                    onMoreLike={props.onMoreLike}
                    onNotLike={props.onNotLike}
                    onToggleRef={props.onToggleRef}
                    onTrace={props.onTrace}
                    onEdit={props.onEdit}
                  />
                );
              })}
            </div>
          ))}
        </div>
      )}
      <div ref={sentinel} className="h-px" aria-hidden />
      {!empty && results.status === "loadingMore" && (
        <p className="flex items-center justify-center gap-2 py-4 text-sm text-muted-foreground">
          <Loader2 className="size-4 animate-spin" /> Loading more…
        </p>
      )}
      {!empty && results.moreError !== null && (
        <p className="flex items-center justify-center gap-2 py-4 text-sm text-red-700" role="alert">
          {describeError(results.moreError).message}
          <Button size="sm" variant="outline" onClick={onRetryMore}>
            Retry
          </Button>
        </p>
      )}
      {!empty && results.status === "ready" && results.hits.length > 0 && results.nextCursor === null && (
        <p className="py-4 text-center text-xs text-muted-foreground">End of results · {results.hits.length} shown</p>
      )}
    </div>
  );
}

function EmptyState({ icon, title, children, role }: { icon: React.ReactNode; title: string; children: React.ReactNode; role?: string }) {
  return (
    <div role={role ?? "status"} className="mx-auto flex max-w-md flex-col items-center gap-2 py-16 text-center [&>svg]:size-8 [&>svg]:text-muted-foreground" data-testid="results-empty">
      {icon}
      <h2 className="text-base font-semibold">{title}</h2>
      <div className="text-sm text-muted-foreground">{children}</div>
    </div>
  );
}

function SkeletonGrid({ columns }: { columns: number }) {
  return (
    <div className="flex gap-2.5" aria-label="Loading results" role="status">
      {Array.from({ length: columns }, (_, c) => (
        <div key={c} className="flex flex-1 flex-col gap-2.5">
          {Array.from({ length: 3 }, (_, r) => (
            <div key={r} className="animate-pulse rounded-lg bg-background/80" style={{ height: 120 + ((c * 3 + r) % 4) * 40 }} />
          ))}
        </div>
      ))}
    </div>
  );
}
