import { describe, expect, it } from "vitest";
import { atlasCellFor, isDrawableSprite, spriteStyle } from "./sprite";

describe("spriteStyle", () => {
  it("scales the page so the sprite fills the box and lines its corner up", () => {
    // 1280×1152 page, a 104×128 sprite at (12, 0): 10 cells across, 9 down.
    const s = spriteStyle({ page: 0, x: 12, y: 0, w: 104, h: 128 }, { width: 1280, height: 1152 });
    expect(s.backgroundSize).toBe("1230.7692% 900%");
    expect(s.backgroundPosition).toBe("1.0204% 0%");
    expect(s.aspectRatio).toBe("104 / 128");
  });

  it("puts a sprite in the last cell at 100%", () => {
    const s = spriteStyle({ page: 0, x: 896, y: 384, w: 128, h: 128 }, { width: 1024, height: 512 });
    expect(s.backgroundPosition).toBe("100% 100%");
    expect(s.backgroundSize).toBe("800% 400%");
  });

  it("a sprite as wide or tall as its page sits at 0% on that axis (no division by zero)", () => {
    const s = spriteStyle({ page: 0, x: 0, y: 0, w: 128, h: 100 }, { width: 128, height: 100 });
    expect(s.backgroundSize).toBe("100% 100%");
    expect(s.backgroundPosition).toBe("0% 0%");
    const tall = spriteStyle({ page: 0, x: 130, y: 0, w: 120, h: 256 }, { width: 512, height: 256 });
    expect(tall.backgroundPosition).toBe("33.1633% 0%");
    expect(tall.backgroundSize).toBe("426.6667% 100%");
  });

  it("matches the pixel offset a box of the sprite's own size would use", () => {
    // Box = sprite size: background is the page at 1:1, so the offset must be -x, -y.
    const page = { width: 768, height: 640 };
    const sp = { page: 0, x: 258, y: 386, w: 100, h: 60 };
    const s = spriteStyle(sp, page);
    const px = (parseFloat(s.backgroundPosition.split(" ")[0]!) / 100) * (sp.w - page.width);
    const py = (parseFloat(s.backgroundPosition.split(" ")[1]!) / 100) * (sp.h - page.height);
    expect(px).toBeCloseTo(-sp.x, 2);
    expect(py).toBeCloseTo(-sp.y, 2);
  });
});

describe("isDrawableSprite", () => {
  const pages = [{ width: 256, height: 256 }];
  it("takes a rectangle inside an existing page", () => {
    expect(isDrawableSprite({ page: 0, x: 128, y: 128, w: 128, h: 128 }, pages)).toBe(true);
  });
  it("refuses what the math cannot draw", () => {
    expect(isDrawableSprite(undefined, pages)).toBe(false);
    expect(isDrawableSprite({ page: 1, x: 0, y: 0, w: 10, h: 10 }, pages)).toBe(false);
    expect(isDrawableSprite({ page: 0, x: 200, y: 0, w: 100, h: 10 }, pages)).toBe(false);
    expect(isDrawableSprite({ page: 0, x: 0, y: 0, w: 0, h: 10 }, pages)).toBe(false);
    expect(isDrawableSprite({ page: 0, x: -1, y: 0, w: 10, h: 10 }, pages)).toBe(false);
    expect(isDrawableSprite({ page: 0.5, x: 0, y: 0, w: 10, h: 10 }, pages)).toBe(false);
  });
});

describe("atlasCellFor", () => {
  it("asks for enough device pixels, in steps of 32, within 32–256", () => {
    expect(atlasCellFor(180)).toBe(192);
    expect(atlasCellFor(180, 2)).toBe(256);
    expect(atlasCellFor(10)).toBe(32);
    expect(atlasCellFor(100, 1.5)).toBe(160);
  });
  it("the largest cell before the grid is laid out", () => {
    expect(atlasCellFor(0)).toBe(256);
    expect(atlasCellFor(Number.NaN)).toBe(256);
  });
});
