/** The sub-queries of a prompt as editable chips: a reducer and its mapping to the API. Pure. */
import type { SubQuery, SubQueryKind } from "@/api/schema";

export const KINDS: readonly SubQueryKind[] = ["subject", "object", "style", "setting"];
/** The server's default RAG_MAX_SUBQUERIES. */
export const MAX_CHIPS = 8;
/** The API's limit on `subQueries[].text`. */
export const MAX_CHIP_TEXT = 200;

export interface Chip {
  /** The sub-query id sent to the server (q1, q2, …); unique within the list. */
  id: string;
  text: string;
  kind: SubQueryKind;
  weight: number;
}

export type ChipsAction =
  /** Replace every chip (a /search/decompose or /search/complementary answer). */
  | { type: "set"; subQueries: readonly SubQuery[] }
  | { type: "add"; text: string; kind?: SubQueryKind }
  | { type: "edit"; id: string; text: string }
  | { type: "setKind"; id: string; kind: SubQueryKind }
  | { type: "cycleKind"; id: string }
  | { type: "remove"; id: string }
  | { type: "clear" };

const ID = /^[A-Za-z0-9_-]{1,32}$/;

function clean(text: string): string {
  return text.replace(/\s+/g, " ").trim().slice(0, MAX_CHIP_TEXT).trim();
}

function same(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** The next free id of the form qN (after the largest qN in use). */
export function nextChipId(chips: readonly Chip[]): string {
  let max = 0;
  for (const c of chips) {
    const m = /^q(\d+)$/.exec(c.id);
    if (m) max = Math.max(max, Number(m[1]));
  }
  let n = max + 1;
  while (chips.some((c) => c.id === `q${n}`)) n++;
  return `q${n}`;
}

export function nextKind(kind: SubQueryKind): SubQueryKind {
  return KINDS[(KINDS.indexOf(kind) + 1) % KINDS.length] ?? "subject";
}

export function chipsReducer(chips: Chip[], action: ChipsAction): Chip[] {
  switch (action.type) {
    case "set": {
      const out: Chip[] = [];
      for (const q of action.subQueries) {
        const text = clean(q.text);
        if (!text || out.some((c) => same(c.text, text))) continue;
        const kind = q.kind && KINDS.includes(q.kind) ? q.kind : "subject";
        const weight = q.weight !== undefined && Number.isFinite(q.weight) && q.weight >= 0 ? q.weight : 1;
        const id = q.id && ID.test(q.id) && !out.some((c) => c.id === q.id) ? q.id : nextChipId(out);
        out.push({ id, text, kind, weight });
      }
      return out;
    }
    case "add": {
      const text = clean(action.text);
      if (!text || chips.length >= MAX_CHIPS || chips.some((c) => same(c.text, text))) return chips;
      return [...chips, { id: nextChipId(chips), text, kind: action.kind ?? "subject", weight: 1 }];
    }
    case "edit": {
      const text = clean(action.text);
      if (!text) return chips.filter((c) => c.id !== action.id);
      // Editing into the text of another chip would make two equal parts: keep the list as it was.
      if (chips.some((c) => c.id !== action.id && same(c.text, text))) return chips;
      return chips.map((c) => (c.id === action.id ? { ...c, text } : c));
    }
    case "setKind":
      return chips.map((c) => (c.id === action.id ? { ...c, kind: action.kind } : c));
    case "cycleKind":
      return chips.map((c) => (c.id === action.id ? { ...c, kind: nextKind(c.kind) } : c));
    case "remove":
      return chips.filter((c) => c.id !== action.id);
    case "clear":
      return [];
  }
}

/** `subQueries` of POST /search/complementary. */
export function toSubQueries(chips: readonly Chip[]): SubQuery[] {
  return chips.map((c) => ({ id: c.id, text: c.text, kind: c.kind, weight: c.weight }));
}

/** Identity of what was asked: a result is stale once the chips no longer match it. */
export function chipsSignature(chips: readonly Pick<Chip, "id" | "text" | "kind" | "weight">[]): string {
  return JSON.stringify(chips.map((c) => [c.id, c.text, c.kind, c.weight]));
}
