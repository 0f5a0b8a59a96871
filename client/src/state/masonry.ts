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
