/** The references handed to generation: a list reducer and its mapping to the request. Pure. */
import type { GenerateRef, RefRole } from "@/api/schema";

export type RefSource =
  /** A library image, sent by id. */
  | { kind: "library"; id: string; thumbUrl: string }
  /** An uploaded/pasted or generated image, sent inline as a data URL. */
  | { kind: "inline"; image: string; label: string };

export interface RefItem {
  /** Unique within the list: "lib:<id>" or "inline:<n>". */
  key: string;
  source: RefSource;
  role: RefRole;
  weight: number;
}

export const MAX_REFS = 4;
export const DEFAULT_REF_WEIGHT = 0.6;

export type RefsAction =
  | { type: "add"; source: RefSource; role?: RefRole; weight?: number }
  | { type: "remove"; key: string }
  | { type: "setRole"; key: string; role: RefRole }
  | { type: "setWeight"; key: string; weight: number }
  | { type: "clear" };

export function refKey(source: RefSource): string {
  return source.kind === "library" ? `lib:${source.id}` : `inline:${hashString(source.image)}`;
}

/** A short, stable FNV-1a hash of a (possibly long) data URL. */
export function hashString(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16);
}

/** The roles a reference can take, in the order the picker offers them (the server's `Role`):
 * face = keep a person's identity, composition = layout only. */
export const REF_ROLES = ["style", "subject", "face", "composition"] as const satisfies readonly RefRole[];

/** A new reference's role: the first one sets the style, the next the subject, then style again. */
export function defaultRole(items: readonly RefItem[]): RefRole {
  const hasStyle = items.some((r) => r.role === "style");
  const hasSubject = items.some((r) => r.role === "subject");
  if (!hasStyle) return "style";
  if (!hasSubject) return "subject";
  return "style";
}

function clamp01(v: number): number {
  return Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : DEFAULT_REF_WEIGHT;
}

export function refsReducer(items: RefItem[], action: RefsAction): RefItem[] {
  switch (action.type) {
    case "add": {
      const key = refKey(action.source);
      if (items.some((r) => r.key === key) || items.length >= MAX_REFS) return items;
      return [
        ...items,
        { key, source: action.source, role: action.role ?? defaultRole(items), weight: clamp01(action.weight ?? DEFAULT_REF_WEIGHT) },
      ];
    }
    case "remove":
      return items.filter((r) => r.key !== action.key);
    case "setRole":
      return items.map((r) => (r.key === action.key ? { ...r, role: action.role } : r));
    case "setWeight":
      return items.map((r) => (r.key === action.key ? { ...r, weight: clamp01(action.weight) } : r));
    case "clear":
      return [];
  }
}

export function hasRef(items: readonly RefItem[], source: RefSource): boolean {
  const key = refKey(source);
  return items.some((r) => r.key === key);
}

/** The `refs` array of `POST /images/generate`. */
export function toGenerateRefs(items: readonly RefItem[]): GenerateRef[] {
  return items.map((r) =>
    r.source.kind === "library"
      ? { role: r.role, id: r.source.id, weight: r.weight }
      : { role: r.role, image: r.source.image, weight: r.weight },
  );
}
