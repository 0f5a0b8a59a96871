/**
 * "Edit this image": the base image under the mask layer, the mask painted on it, and the
 * edit's settings, and how they go into POST /images/generate. Pure; the components hold it.
 */
import type { BaseImageSpec, EditMode, GenerateRequest } from "@/api/schema";

/** Where the base came from. A library image goes by id (the server reads its original). */
export type EditBase =
  | { kind: "library"; id: string; imageUrl: string; label: string }
  /** An upload or a generated result, sent inline as a data URL. */
  | { kind: "inline"; image: string; label: string };

export interface EditState {
  base: EditBase;
  /** The exported mask (PNG data URL), or null: nothing painted, so the edit is img2img. */
  mask: string | null;
  /** Set by the slider; null: the default for the kind of edit (see `sentStrength`). */
  strength: number | null;
  mode: EditMode;
}

/** The seed's advice for keeping a subject's identity in img2img: strength 0.2–0.35. */
export const IDENTITY_STRENGTH: readonly [number, number] = [0.2, 0.35];
/** img2img's strength unless moved: the seed's 0.3. */
export const DEFAULT_STRENGTH = 0.3;
export const DEFAULT_EDIT_MODE: EditMode = "inpaint-insert";

export const EDIT_MODES: readonly { value: EditMode; label: string }[] = [
  { value: "inpaint-insert", label: "Insert / change (inpaint)" },
  { value: "inpaint-remove", label: "Remove (inpaint)" },
  { value: "background-swap", label: "Swap background" },
  { value: "outpaint", label: "Outpaint (extend)" },
];

export function startEdit(base: EditBase): EditState {
  return { base, mask: null, strength: null, mode: DEFAULT_EDIT_MODE };
}

/**
 * The strength to send: the slider's when it was moved; else 0.3 for img2img (the seed's
 * identity-keeping value), and none with a mask, so the server's inpainting default applies
 * (it repaints the masked area almost from noise; 0.3 there would barely change it).
 */
export function sentStrength(edit: EditState): number | undefined {
  if (edit.strength !== null) return clampStrength(edit.strength);
  return edit.mask ? undefined : DEFAULT_STRENGTH;
}

/** The URL to show the base from. */
export function baseSrc(base: EditBase): string {
  return base.kind === "library" ? base.imageUrl : base.image;
}

export function baseImageSpec(base: EditBase): BaseImageSpec {
  return base.kind === "library" ? { id: base.id } : { image: base.image };
}

function clampStrength(v: number): number {
  return Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : DEFAULT_STRENGTH;
}

/**
 * `req` as an edit of `edit.base`: the base and its strength (`sentStrength`); with a mask, the
 * mask and the edit mode (inpainting); without one, neither (img2img from the base). Left out:
 * the sketch (hidden while editing; the server takes one start picture) and the size (the
 * output takes the base's aspect; a size of another aspect would be refused).
 */
export function applyEdit(req: GenerateRequest, edit: EditState | null): GenerateRequest {
  if (!edit) return req;
  const out: GenerateRequest = { ...req, sketch: null, sketchWeight: 0, baseImage: baseImageSpec(edit.base) };
  delete out.width;
  delete out.height;
  const strength = sentStrength(edit);
  if (strength !== undefined) out.strength = strength;
  if (edit.mask) {
    out.mask = edit.mask;
    out.editMode = edit.mode;
  }
  return out;
}
