import { AlertTriangle, ImageOff, Loader2, SlidersHorizontal } from "lucide-react";
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { Button } from "@/components/ui/button";
import { useAtlas } from "@/hooks/useAtlas";
import { describeError } from "@/state/errors";
import { columnCount, masonryLayout, neighbour } from "@/state/masonry";
import type { BuildResult } from "@/state/query";
import { canLoadMore, collapseSimilar, type ResultsState } from "@/state/results";
import { ResultCard, type HitActions } from "./ResultCard";
import { StartPanel } from "./StartPanel";

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
  const GAP = 10;
  const columnWidth = width > 0 ? (width - (n - 1) * GAP) / n : 0;
  const more = canLoadMore(results);
  // Image width inside a card: the column less the card's padding and border.
  const cardWidth = columnWidth > 0 ? columnWidth - 14 : 0;
  const thumbFor = useAtlas(results.pageIds, cardWidth);

  // The cards are in rank order in the DOM (keyboard and screen readers read 1, 2, 3 …);
  // their measured heights place them in columns (masonryLayout), absolutely positioned.
  // Near-identical hits in a row fold under the first ("+1 similar") until it is expanded.
  const leaders = useMemo(() => collapseSimilar(results.hits), [results.hits]);
  const foldedCount = useMemo(() => {
    const counts = new Map<number, number>();
    for (const l of leaders) if (l !== null) counts.set(l, (counts.get(l) ?? 0) + 1);
    return counts;
  }, [leaders]);
  const [expanded, setExpanded] = useState<ReadonlySet<string>>(new Set());
  const isHidden = (i: number) => {
    const l = leaders[i];
    return l !== null && l !== undefined && !expanded.has(results.hits[l]?.id ?? "");
  };
  const toggleSimilar = useCallback(
    (id: string) =>
      setExpanded((prev) => {
        const next = new Set(prev);
        if (!next.delete(id)) next.add(id);
        return next;
      }),
    [],
  );
  const cardRefs = useRef(new Map<string, HTMLElement>());
  const [heights, setHeights] = useState<ReadonlyMap<string, number>>(new Map());
  const measure = useCallback(() => {
    setHeights((prev) => {
      let changed = false;
      const next = new Map<string, number>();
      for (const [id, el] of cardRefs.current) {
        const h = el.offsetHeight;
        next.set(id, h);
        if (prev.get(id) !== h) changed = true;
      }
      return changed || next.size !== prev.size ? next : prev;
    });
  }, []);
  useLayoutEffect(measure, [measure, results.hits, columnWidth, expanded]);
  useEffect(() => {
    const ro = new ResizeObserver(measure);
    for (const el of cardRefs.current.values()) ro.observe(el);
    return () => ro.disconnect();
  }, [measure, results.hits]);
  const layout = useMemo(
    () =>
      masonryLayout(
        // Until a card is measured: its image's shape at the column width, plus the score bars.
        results.hits.map((h, i) => (isHidden(i) ? 0 : (heights.get(h.id) ?? (h.width && h.height ? (columnWidth * h.height) / h.width : columnWidth) + 60))),
        n,
        columnWidth,
        GAP,
      ),
    // eslint-disable-next-line react-hooks/exhaustive-deps -- isHidden reads leaders and expanded
    [results.hits, heights, n, columnWidth, leaders, expanded],
  );
  // One tab stop for the whole grid (a roving tabindex): the current card; arrows move it.
  const [current, setCurrent] = useState(0);
  const clamped = Math.min(current, Math.max(0, results.hits.length - 1));
  const active = isHidden(clamped) ? (leaders[clamped] ?? 0) : clamped;
  const onCardKey = (e: React.KeyboardEvent, i: number) => {
    if (!["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End"].includes(e.key)) return;
    const key = e.key as Parameters<typeof neighbour>[2];
    let to = neighbour(layout.placed, i, key);
    // Skip folded hits, going on in the same direction (Home/End: inwards).
    const onward = key === "Home" ? "ArrowRight" : key === "End" ? "ArrowLeft" : key;
    while (to !== null && isHidden(to)) to = neighbour(layout.placed, to, onward);
    e.preventDefault();
    if (to === null) return;
    setCurrent(to);
    const id = results.hits[to]?.id;
    if (id) cardRefs.current.get(id)?.querySelector<HTMLElement>("[data-roving]")?.focus();
  };

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
    empty = <StartPanel />;
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
        <div
          className="relative transition-opacity data-[refreshing=true]:opacity-50"
          style={{ height: layout.height }}
          data-refreshing={refreshing}
          data-testid="results-grid"
          role="list"
          aria-label="Search results (arrow keys move between them, Enter opens one)"
        >
          {results.hits.map((hit, i) => {
            const at = layout.placed[i];
            return (
              <div
                key={hit.id}
                role="listitem"
                ref={(el) => {
                  if (el) cardRefs.current.set(hit.id, el);
                  else cardRefs.current.delete(hit.id);
                }}
                hidden={isHidden(i)}
                className="absolute left-0 top-0"
                style={{ width: columnWidth || undefined, transform: at ? `translate(${at.x}px, ${at.y}px)` : undefined }}
                onKeyDown={(e) => onCardKey(e, i)}
                onFocus={() => setCurrent(i)}
              >
                <ResultCard
                  hit={hit}
                  rank={i + 1}
                  tabbable={i === active}
                  similar={foldedCount.get(i) ?? 0}
                  similarShown={expanded.has(hit.id)}
                  onToggleSimilar={toggleSimilar}
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
              </div>
            );
          })}
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
