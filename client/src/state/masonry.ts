/** Masonry layout: place items in reading order into the shortest column. Pure. */

export interface Sized {
  width?: number | null;
  height?: number | null;
}

/** Height of an item per unit of column width; unknown sizes count as square. */
export function aspect(item: Sized): number {
  const { width, height } = item;
  if (!width || !height || width <= 0 || height <= 0) return 1;
  return Math.min(3, Math.max(1 / 3, height / width));
}

/** Indices of the items in each column, preserving rank order within a column. */
export function masonryColumns(items: readonly Sized[], columns: number, gap = 0.05): number[][] {
  const n = Math.max(1, Math.floor(columns));
  const cols: number[][] = Array.from({ length: n }, () => []);
  const heights = new Array<number>(n).fill(0);
  items.forEach((item, i) => {
    let best = 0;
    for (let c = 1; c < n; c++) if ((heights[c] ?? 0) < (heights[best] ?? 0) - 1e-9) best = c;
    cols[best]!.push(i);
    heights[best] = (heights[best] ?? 0) + aspect(item) + gap;
  });
  return cols;
}

/** How many columns fit a width, given a minimal column width. */
export function columnCount(width: number, minColumn = 180, max = 6): number {
  if (!(width > 0)) return 1;
  return Math.max(1, Math.min(max, Math.floor(width / minColumn)));
}

export interface Placed {
  column: number;
  x: number;
  y: number;
}

/**
 * Masonry with the items kept in rank order: each item, in order, goes to the shortest
 * column (leftmost on a tie), so the DOM can list them 1, 2, 3 … while the page shows
 * columns. `heights` are the measured item heights in px. Returns each item's column and
 * offset, and the container height.
 */
export function masonryLayout(heights: readonly number[], columns: number, columnWidth: number, gap: number): { placed: Placed[]; height: number } {
  const n = Math.max(1, Math.floor(columns));
  if (!(columnWidth >= 0) || !(gap >= 0)) throw new RangeError(`columnWidth and gap must be >= 0, got ${columnWidth} and ${gap}`);
  const tops = new Array<number>(n).fill(0);
  const placed = heights.map((h) => {
    let best = 0;
    for (let c = 1; c < n; c++) if ((tops[c] ?? 0) < (tops[best] ?? 0) - 0.5) best = c;
    const y = tops[best] ?? 0;
    // A hidden item (folded under a similar one) takes no room and no gap.
    tops[best] = h > 0 ? y + h + gap : y;
    return { column: best, x: best * (columnWidth + gap), y };
  });
  const height = heights.some((h) => h > 0) ? Math.max(...tops) - gap : 0;
  return { placed, height: Math.max(0, height) };
}

/**
 * The item an arrow key moves to from `from`: left/right step through the ranks, up/down
 * stay in the column (the nearest item above or below). Null when there is none.
 */
export function neighbour(placed: readonly Placed[], from: number, key: "ArrowLeft" | "ArrowRight" | "ArrowUp" | "ArrowDown" | "Home" | "End"): number | null {
  if (placed.length === 0) return null;
  if (key === "Home") return 0;
  if (key === "End") return placed.length - 1;
  if (key === "ArrowRight") return from + 1 < placed.length ? from + 1 : null;
  if (key === "ArrowLeft") return from > 0 ? from - 1 : null;
  const here = placed[from];
  if (!here) return null;
  const step = key === "ArrowDown" ? 1 : -1;
  for (let i = from + step; i >= 0 && i < placed.length; i += step) if (placed[i]?.column === here.column) return i;
  return null;
}
