import { describe, expect, it } from "vitest";
import { canvasSizeFor, encodeMaskPng, exportMask, fitSize, MASK_MAX_SIDE, pathPoints, rasterizeMask, type MaskLayer, type MaskStroke } from "./mask";

interface DecodedPng {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  /** 255 or 0 per pixel, row-major. */
  grey: Uint8Array;
}

function be32(b: Uint8Array, o: number): number {
  return (((b[o] as number) << 24) | ((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number)) >>> 0;
}

/** An independent reader for what the client sends: chunks walked here, IDAT inflated by the platform's zlib. */
async function decodePng(dataUrl: string): Promise<DecodedPng> {
  const prefix = "data:image/png;base64,";
  expect(dataUrl.startsWith(prefix)).toBe(true);
  const bytes = Uint8Array.from(atob(dataUrl.slice(prefix.length)), (c) => c.charCodeAt(0));
  expect([...bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let o = 8;
  let ihdr: Uint8Array | null = null;
  const idat: Uint8Array[] = [];
  let iendCrc = 0;
  while (o < bytes.length) {
    const len = be32(bytes, o);
    const type = new TextDecoder().decode(bytes.subarray(o + 4, o + 8));
    const data = bytes.subarray(o + 8, o + 8 + len);
    if (type === "IHDR") ihdr = data;
    if (type === "IDAT") idat.push(data);
    if (type === "IEND") iendCrc = be32(bytes, o + 8 + len);
    o += 12 + len;
  }
  // IEND's CRC is a constant of the format: a wrong CRC table would show here.
  expect(iendCrc).toBe(0xae426082);
  if (!ihdr) throw new Error("no IHDR");
  const width = be32(ihdr, 0);
  const height = be32(ihdr, 4);
  const stream = new Blob(idat as BlobPart[]).stream().pipeThrough(new DecompressionStream("deflate"));
  const raw = new Uint8Array(await new Response(stream).arrayBuffer());
  const stride = Math.ceil(width / 8);
  expect(raw.length).toBe((stride + 1) * height);
  const grey = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (stride + 1)]).toBe(0); // filter type None
    for (let x = 0; x < width; x++) {
      const byte = raw[y * (stride + 1) + 1 + (x >> 3)] as number;
      grey[y * width + x] = byte & (0x80 >> (x & 7)) ? 255 : 0;
    }
  }
  return { width, height, bitDepth: ihdr[8] as number, colorType: ihdr[9] as number, grey };
}

const paint = (points: [number, number][], width = 20): MaskStroke => ({ tool: "paint", width, points });
const erase = (points: [number, number][], width = 20): MaskStroke => ({ tool: "erase", width, points });

describe("mask export", () => {
  it("is white where painted and black elsewhere, at the base image's aspect", async () => {
    // A 1600 × 800 base: the canvas is 512 × 256, the mask 768 × 384.
    const canvas = canvasSizeFor({ width: 1600, height: 800 });
    expect(canvas).toEqual({ width: 512, height: 256 });
    const layer: MaskLayer = { ...canvas, strokes: [paint([[100, 128], [200, 128]])] };
    const out = exportMask(layer, { width: 1600, height: 800 });
    expect(out).not.toBeNull();
    const png = await decodePng(out!.dataUrl);
    expect([png.width, png.height]).toEqual([MASK_MAX_SIDE, MASK_MAX_SIDE / 2]);
    expect(png.width / png.height).toBeCloseTo(1600 / 800, 5);
    expect([png.bitDepth, png.colorType]).toEqual([1, 0]);
    const at = (x: number, y: number) => png.grey[Math.round(y * 1.5) * png.width + Math.round(x * 1.5)];
    // On the stroke (canvas coordinates × 1.5): white; off it: black.
    expect(at(100, 128)).toBe(255);
    expect(at(150, 128)).toBe(255);
    expect(at(200, 128)).toBe(255);
    expect(at(150, 136)).toBe(255); // within the 10 px radius
    expect(at(150, 150)).toBe(0);
    expect(at(60, 128)).toBe(0);
    expect(at(400, 128)).toBe(0);
    expect(at(0, 0)).toBe(0);
    // The white area is the stroke's: a 100 × 20 capsule, ~ (100·20 + π·10²) canvas px, × 1.5².
    const white = png.grey.reduce((n, v) => n + (v ? 1 : 0), 0);
    expect(white / 2.25).toBeGreaterThan(2000 + Math.PI * 100 - 150);
    expect(white / 2.25).toBeLessThan(2000 + Math.PI * 100 + 150);
  });

  it("never upscales a small base, and keeps a portrait aspect", async () => {
    const base = { width: 300, height: 500 };
    const canvas = canvasSizeFor(base);
    expect(canvas.width / canvas.height).toBeCloseTo(0.6, 2);
    const out = exportMask({ ...canvas, strokes: [paint([[150, 250]], 40)] }, base);
    const png = await decodePng(out!.dataUrl);
    expect([png.width, png.height]).toEqual([300, 500]);
    // A dot at the centre of the canvas is at the centre of the mask.
    expect(png.grey[250 * 300 + 150]).toBe(255);
    expect(png.grey[10 * 300 + 10]).toBe(0);
  });

  it("erase clears what paint set, and only there", () => {
    const layer: MaskLayer = {
      width: 100,
      height: 100,
      strokes: [paint([[10, 50], [90, 50]], 20), erase([[50, 20], [50, 80]], 10)],
    };
    const bits = rasterizeMask(layer, 100, 100);
    expect(bits[50 * 100 + 20]).toBe(1);
    expect(bits[50 * 100 + 80]).toBe(1);
    expect(bits[50 * 100 + 50]).toBe(0); // erased
    expect(bits[45 * 100 + 50]).toBe(0);
    // Paint after erase paints again: order matters.
    const again = rasterizeMask({ ...layer, strokes: [...layer.strokes, paint([[50, 50]], 4)] }, 100, 100);
    expect(again[50 * 100 + 50]).toBe(1);
  });

  it("gives no mask when nothing is painted, all of it is erased, or it was cleared", () => {
    const base = { width: 64, height: 64 };
    expect(exportMask({ width: 64, height: 64, strokes: [] }, base)).toBeNull();
    expect(exportMask({ width: 64, height: 64, strokes: [erase([[10, 10], [50, 50]])] }, base)).toBeNull();
    const erasedAll = { width: 64, height: 64, strokes: [paint([[32, 32]], 10), erase([[32, 32]], 30)] };
    expect(rasterizeMask(erasedAll, 64, 64).includes(1)).toBe(false);
    expect(exportMask(erasedAll, base)).toBeNull();
  });

  it("writes every row of a width that is not a multiple of 8", async () => {
    const bits = new Uint8Array(11 * 3);
    bits[0] = 1; // top-left
    bits[2 * 11 + 10] = 1; // bottom-right
    const bytes = encodeMaskPng(bits, 11, 3);
    let s = "";
    for (const b of bytes) s += String.fromCharCode(b);
    const png = await decodePng(`data:image/png;base64,${btoa(s)}`);
    expect([png.width, png.height]).toEqual([11, 3]);
    expect([...png.grey].map((v) => (v ? 1 : 0))).toEqual([...bits]);
  });

  it("spans several deflate blocks for a large mask", async () => {
    // 768 × 768 at one bit a pixel is 74 KB of rows: more than one 64 KB stored block.
    const out = exportMask({ width: 512, height: 512, strokes: [paint([[0, 511], [511, 0]], 8)] }, { width: 4000, height: 4000 });
    const png = await decodePng(out!.dataUrl);
    expect([png.width, png.height]).toEqual([768, 768]);
    expect(png.grey[384 * 768 + 384]).toBe(255);
    expect(png.grey[10 * 768 + 10]).toBe(0);
    expect(out!.dataUrl.length).toBeLessThan(110_000);
  });
});

describe("mask geometry", () => {
  it("fits a size under a longest side without changing its aspect", () => {
    expect(fitSize(2000, 1000, 768)).toEqual({ width: 768, height: 384 });
    expect(fitSize(100, 50, 768)).toEqual({ width: 100, height: 50 });
    expect(() => fitSize(0, 10, 768)).toThrow(/positive/);
  });

  it("reads a Fabric pencil path's points, sampling its curves", () => {
    const pts = pathPoints([
      ["M", 0, 0],
      ["Q", 10, 0, 10, 10],
      ["L", 20, 10],
      ["z"],
    ]);
    expect(pts[0]).toEqual([0, 0]);
    expect(pts[pts.length - 2]).toEqual([10, 10]);
    expect(pts[pts.length - 1]).toEqual([20, 10]);
    // The curve's midpoint (t = 0.5) bends towards its control point.
    expect(pts[2]).toEqual([7.5, 2.5]);
  });
});
