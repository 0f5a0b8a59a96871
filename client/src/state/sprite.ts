/** CSS sprite math for atlas thumbnails: a rectangle of a page → background size and position. Pure. */
import type { AtlasPage, AtlasSprite } from "@/api/schema";

/** The inline style that shows one sprite in a box of any width (its height follows `aspectRatio`). */
export interface SpriteStyle {
  backgroundSize: string;
  backgroundPosition: string;
  aspectRatio: string;
}

/** A percentage with at most 4 decimals, so the style strings stay short and stable. */
function pct(n: number): string {
  return `${Math.round(n * 1e4) / 1e4}%`;
}

/**
 * Percentages instead of pixels so the sprite scales with the card: with the box w:h,
 * a background `page/w * 100%` wide puts one page pixel per box pixel / w, and a position
 * of p% lines the image's p% point up with the box's p% point, which is x/(pageW-w).
 * A sprite as wide (or tall) as its page has no room to move on that axis: 0%.
 */
export function spriteStyle(sprite: AtlasSprite, page: Pick<AtlasPage, "width" | "height">): SpriteStyle {
  const { x, y, w, h } = sprite;
  const px = page.width === w ? 0 : (x / (page.width - w)) * 100;
  const py = page.height === h ? 0 : (y / (page.height - h)) * 100;
  return {
    backgroundSize: `${pct((page.width / w) * 100)} ${pct((page.height / h) * 100)}`,
    backgroundPosition: `${pct(px)} ${pct(py)}`,
    aspectRatio: `${w} / ${h}`,
  };
}

/** A sprite the math can draw: on an existing page, non-empty, inside the page. Anything else falls back. */
export function isDrawableSprite(sprite: AtlasSprite | undefined, pages: readonly Pick<AtlasPage, "width" | "height">[]): sprite is AtlasSprite {
  if (!sprite) return false;
  const page = Number.isInteger(sprite.page) ? pages[sprite.page] : undefined;
  if (!page) return false;
  const { x, y, w, h } = sprite;
  if (![x, y, w, h, page.width, page.height].every(Number.isFinite)) return false;
  return w > 0 && h > 0 && x >= 0 && y >= 0 && x + w <= page.width && y + h <= page.height;
}

export const MIN_ATLAS_CELL = 32;
export const MAX_ATLAS_CELL = 256;

/**
 * The cell size to ask for: enough device pixels for a card `cardWidth` CSS px wide
 * (rounded up to 32 so small resizes ask for the same size), within the server's 32–256.
 * Unknown width (not laid out yet): the largest, which never looks worse than a thumbnail.
 */
export function atlasCellFor(cardWidth: number, devicePixelRatio = 1): number {
  if (!(cardWidth > 0)) return MAX_ATLAS_CELL;
  const dpr = devicePixelRatio > 0 && Number.isFinite(devicePixelRatio) ? devicePixelRatio : 1;
  const want = Math.ceil((cardWidth * dpr) / 32) * 32;
  return Math.min(MAX_ATLAS_CELL, Math.max(MIN_ATLAS_CELL, want));
}
