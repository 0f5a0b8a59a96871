import { describe, expect, it } from "vitest";
import type { GenerateRequest } from "@/api/schema";
import { applyEdit, baseSrc, DEFAULT_STRENGTH, IDENTITY_STRENGTH, sentStrength, startEdit, type EditBase } from "./edit";

const req: GenerateRequest = {
  prompt: "a red hat",
  negativePrompt: null,
  refs: [{ role: "style", id: "s1", weight: 0.7 }],
  sketch: "data:image/png;base64,SKETCH",
  sketchWeight: 0.5,
  provider: "sdxl",
  n: 1,
  width: 512,
  height: 512,
};
const libraryBase: EditBase = { kind: "library", id: "img-42", imageUrl: "/image/img-42", label: "cat" };
const inlineBase: EditBase = { kind: "inline", image: "data:image/jpeg;base64,BASE", label: "Uploaded image" };
const MASK = "data:image/png;base64,MASK";

describe("the request built from the edit state", () => {
  it("is unchanged when not editing", () => {
    expect(applyEdit(req, null)).toEqual(req);
  });

  it("without a mask is img2img from the base: baseImage and strength 0.3, no mask, no edit mode", () => {
    const out = applyEdit(req, startEdit(libraryBase));
    expect(out.baseImage).toEqual({ id: "img-42" });
    expect(out.strength).toBe(0.3);
    expect(out).not.toHaveProperty("mask");
    expect(out).not.toHaveProperty("editMode");
    // What the request asked for besides stays; the hidden sketch is not sent.
    expect(out.prompt).toBe("a red hat");
    expect(out.refs).toEqual(req.refs);
    expect(out.provider).toBe("sdxl");
    expect(out.sketch).toBeNull();
    expect(out.sketchWeight).toBe(0);
    // The output takes the base's aspect: a square size would be refused for a wide base.
    expect(out).not.toHaveProperty("width");
    expect(out).not.toHaveProperty("height");
  });

  it("with a mask is an inpaint: mask and edit mode with the base and the strength set", () => {
    const out = applyEdit(req, { ...startEdit(libraryBase), mask: MASK, strength: 0.8, mode: "background-swap" });
    expect(out).toMatchObject({ baseImage: { id: "img-42" }, mask: MASK, strength: 0.8, editMode: "background-swap" });
  });

  it("with a mask and the strength untouched, leaves it to the server's inpainting default", () => {
    const edit = { ...startEdit(libraryBase), mask: MASK };
    expect(sentStrength(edit)).toBeUndefined();
    const out = applyEdit(req, edit);
    expect(out).not.toHaveProperty("strength");
    expect(out.mask).toBe(MASK);
    // Painting nothing again: back to img2img at 0.3.
    expect(applyEdit(req, { ...edit, mask: null }).strength).toBe(0.3);
  });

  it("sends an upload or a generated result inline, as a data URL", () => {
    const edit = { ...startEdit(inlineBase), mask: MASK };
    const out = applyEdit(req, edit);
    expect(out.baseImage).toEqual({ image: "data:image/jpeg;base64,BASE" });
    expect(out.editMode).toBe("inpaint-insert");
    expect(baseSrc(inlineBase)).toBe("data:image/jpeg;base64,BASE");
    expect(baseSrc(libraryBase)).toBe("/image/img-42");
  });

  it("keeps the strength within 0–1", () => {
    expect(applyEdit(req, { ...startEdit(libraryBase), strength: 1.7 }).strength).toBe(1);
    expect(applyEdit(req, { ...startEdit(libraryBase), strength: -0.2 }).strength).toBe(0);
    expect(applyEdit(req, { ...startEdit(libraryBase), strength: Number.NaN }).strength).toBe(DEFAULT_STRENGTH);
  });

  it("starts at the seed's default strength, inside its identity-keeping range", () => {
    const s = startEdit(inlineBase);
    expect(s.strength).toBeNull();
    expect(sentStrength(s)).toBe(DEFAULT_STRENGTH);
    expect(DEFAULT_STRENGTH).toBe(0.3);
    expect(DEFAULT_STRENGTH).toBeGreaterThanOrEqual(IDENTITY_STRENGTH[0]);
    expect(DEFAULT_STRENGTH).toBeLessThanOrEqual(IDENTITY_STRENGTH[1]);
    expect(s.mode).toBe("inpaint-insert");
    expect(s.mask).toBeNull();
  });
});
