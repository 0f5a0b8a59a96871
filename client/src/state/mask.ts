/**
 * The edit mask, kept as data: strokes in the mask canvas's logical pixels, painted ("edit
 * here") or erased, in drawing order. Rasterising and PNG encoding are pure so they can be
 * tested without a browser canvas, and what is sent is exactly what is tested.
 *
 * Wire format (POST /images/generate `mask`): a PNG data URL, white = edit, black = keep, at
 * the base image's aspect ratio; the server resizes it to the base.
 */

export type MaskTool = "paint" | "erase";
export type Point = readonly [number, number];

export interface MaskStroke {
  tool: MaskTool;
  /** Brush diameter in the layer's logical pixels. */
  width: number;
  points: readonly Point[];
}

export interface MaskLayer {
  /** Logical size of the canvas the strokes were drawn on (the base image's aspect). */
  width: number;
  height: number;
  strokes: readonly MaskStroke[];
}

/** Longest side of the mask canvas's drawing surface. */
export const MASK_CANVAS_SIDE = 512;
/** Longest side of the exported mask: the server resizes it to the base, so more buys nothing but bytes. */
export const MASK_MAX_SIDE = 768;

/** A `maxSide`-bounded size with the aspect ratio of `width` × `height` (never upscaled, at least 1 × 1). */
export function fitSize(width: number, height: number, maxSide: number): { width: number; height: number } {
  if (!(width > 0 && height > 0 && maxSide > 0)) throw new Error(`a size needs positive sides, got ${width} × ${height} (max ${maxSide})`);
  const scale = Math.min(1, maxSide / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/** The logical size of the mask canvas for a base image: its aspect, longest side MASK_CANVAS_SIDE. */
export function canvasSizeFor(base: { width: number; height: number }): { width: number; height: number } {
  const scale = MASK_CANVAS_SIDE / Math.max(base.width, base.height);
  return fitSize(base.width * scale, base.height * scale, MASK_CANVAS_SIDE);
}

/** Points of a Fabric/SVG absolute path (M, L, Q, C commands); curves are sampled. */
export function pathPoints(commands: readonly (readonly (string | number)[])[]): Point[] {
  const out: Point[] = [];
  let cur: Point = [0, 0];
  const num = (c: readonly (string | number)[], i: number) => Number(c[i]);
  for (const c of commands) {
    switch (c[0]) {
      case "M":
      case "L":
        cur = [num(c, 1), num(c, 2)];
        out.push(cur);
        break;
      case "Q": {
        const [x0, y0] = cur;
        const [cx, cy, x, y] = [num(c, 1), num(c, 2), num(c, 3), num(c, 4)];
        for (const t of [0.25, 0.5, 0.75, 1]) {
          const u = 1 - t;
          out.push([u * u * x0 + 2 * u * t * cx + t * t * x, u * u * y0 + 2 * u * t * cy + t * t * y]);
        }
        cur = [x, y];
        break;
      }
      case "C": {
        const [x0, y0] = cur;
        const [c1x, c1y, c2x, c2y, x, y] = [num(c, 1), num(c, 2), num(c, 3), num(c, 4), num(c, 5), num(c, 6)];
        for (const t of [0.25, 0.5, 0.75, 1]) {
          const u = 1 - t;
          out.push([
            u * u * u * x0 + 3 * u * u * t * c1x + 3 * u * t * t * c2x + t * t * t * x,
            u * u * u * y0 + 3 * u * u * t * c1y + 3 * u * t * t * c2y + t * t * t * y,
          ]);
        }
        cur = [x, y];
        break;
      }
      default:
        // Z and anything else add no new point a brush stroke needs.
        break;
    }
  }
  return out.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
}

/**
 * The mask as one byte per pixel (1 = edit, 0 = keep), `width` × `height`, row-major: each stroke
 * is a round-capped polyline; paint sets its pixels, erase clears them, in order.
 */
export function rasterizeMask(layer: MaskLayer, width: number, height: number): Uint8Array {
  const bits = new Uint8Array(width * height);
  const sx = width / layer.width;
  const sy = height / layer.height;
  for (const stroke of layer.strokes) {
    const value = stroke.tool === "paint" ? 1 : 0;
    const r = (stroke.width / 2) * ((sx + sy) / 2);
    const pts = stroke.points.map(([x, y]): Point => [x * sx, y * sy]);
    const first = pts[0];
    if (!first) continue;
    const segments: [Point, Point][] = pts.length === 1 ? [[first, first]] : pts.slice(1).map((p, i) => [pts[i] as Point, p]);
    for (const [a, b] of segments) stampSegment(bits, width, height, a, b, r, value);
  }
  return bits;
}

function stampSegment(bits: Uint8Array, w: number, h: number, a: Point, b: Point, r: number, value: number): void {
  const x0 = Math.max(0, Math.floor(Math.min(a[0], b[0]) - r));
  const x1 = Math.min(w - 1, Math.ceil(Math.max(a[0], b[0]) + r));
  const y0 = Math.max(0, Math.floor(Math.min(a[1], b[1]) - r));
  const y1 = Math.min(h - 1, Math.ceil(Math.max(a[1], b[1]) + r));
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const len2 = dx * dx + dy * dy;
  const r2 = r * r;
  for (let y = y0; y <= y1; y++) {
    const py = y + 0.5;
    for (let x = x0; x <= x1; x++) {
      const px = x + 0.5;
      // Distance from the pixel's centre to the segment.
      const t = len2 === 0 ? 0 : Math.min(1, Math.max(0, ((px - a[0]) * dx + (py - a[1]) * dy) / len2));
      const ex = px - (a[0] + t * dx);
      const ey = py - (a[1] + t * dy);
      if (ex * ex + ey * ey <= r2) bits[y * w + x] = value;
    }
  }
}

// --- PNG: 1-bit greyscale, stored (uncompressed) deflate blocks. A mask is two colours, so one
// bit a pixel keeps a 768 × 768 mask near 74 KB without a compressor.

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(parts: readonly Uint8Array[]): number {
  let c = 0xffffffff;
  for (const p of parts) for (let i = 0; i < p.length; i++) c = (CRC_TABLE[(c ^ (p[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function adler32(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (let i = 0; i < data.length; i++) {
    a = (a + (data[i] as number)) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

function u32(n: number): Uint8Array {
  return new Uint8Array([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

function chunk(type: string, data: Uint8Array): Uint8Array[] {
  const t = new TextEncoder().encode(type);
  return [u32(data.length), t, data, u32(crc32([t, data]))];
}

function zlibStored(raw: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(raw.length / 65535));
  const out = new Uint8Array(2 + raw.length + blocks * 5 + 4);
  out[0] = 0x78;
  out[1] = 0x01;
  let o = 2;
  for (let i = 0; i < blocks; i++) {
    const part = raw.subarray(i * 65535, Math.min(raw.length, (i + 1) * 65535));
    out[o++] = i === blocks - 1 ? 1 : 0;
    out[o++] = part.length & 0xff;
    out[o++] = part.length >>> 8;
    out[o++] = ~part.length & 0xff;
    out[o++] = (~part.length >>> 8) & 0xff;
    out.set(part, o);
    o += part.length;
  }
  out.set(u32(adler32(raw)), o);
  return out;
}

/** A 1-bit greyscale PNG of `bits` (1 → white, 0 → black). */
export function encodeMaskPng(bits: Uint8Array, width: number, height: number): Uint8Array {
  if (bits.length !== width * height) throw new Error(`mask has ${bits.length} pixels, expected ${width} × ${height}`);
  const stride = Math.ceil(width / 8);
  const raw = new Uint8Array((stride + 1) * height); // each row: filter type 0, then the bits
  for (let y = 0; y < height; y++) {
    const row = y * (stride + 1) + 1;
    for (let x = 0; x < width; x++) if (bits[y * width + x]) raw[row + (x >> 3)] = (raw[row + (x >> 3)] as number) | (0x80 >> (x & 7));
  }
  const ihdr = new Uint8Array(13);
  ihdr.set(u32(width), 0);
  ihdr.set(u32(height), 4);
  ihdr.set([1, 0, 0, 0, 0], 8); // bit depth 1, greyscale, deflate, no filter set, no interlace
  const parts = [new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), ...chunk("IHDR", ihdr), ...chunk("IDAT", zlibStored(raw)), ...chunk("IEND", new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export interface ExportedMask {
  dataUrl: string;
  width: number;
  height: number;
}

/**
 * The mask to send for a base image of `base` size: a PNG data URL at the base's aspect, longest
 * side at most `maxSide`; null when no pixel is marked (nothing painted, or all of it erased or
 * cleared), which makes the request a plain img2img.
 */
export function exportMask(layer: MaskLayer, base: { width: number; height: number }, maxSide = MASK_MAX_SIDE): ExportedMask | null {
  if (layer.strokes.every((s) => s.tool === "erase")) return null;
  const { width, height } = fitSize(base.width, base.height, maxSide);
  const bits = rasterizeMask(layer, width, height);
  if (!bits.includes(1)) return null;
  return { dataUrl: `data:image/png;base64,${base64(encodeMaskPng(bits, width, height))}`, width, height };
}
