/** The coverage matrix of a /search/complementary answer, shaped for display; attribution rows. Pure. */
import type { ComplementaryRef, ComplementaryResult, GenerationAttribution, Grounding, SubQuery, SubQueryKind } from "@/api/schema";

export interface MatrixCell {
  subQueryId: string;
  /** The score as the server sent it (0..1). */
  value: number;
  /** 0..1, what the shading uses. */
  strength: number;
  /** At least the threshold. */
  covers: boolean;
  /** This reference is the one that informs this sub-query best. */
  best: boolean;
}

export interface MatrixRow {
  ref: ComplementaryRef;
  cells: MatrixCell[];
}

export interface MatrixColumn {
  id: string;
  text: string;
  kind: SubQueryKind;
  /** 1-based, as the chips are numbered. */
  index: number;
  bestRefId: string | null;
  bestScore: number;
  covered: boolean;
}

export interface ShapedMatrix {
  columns: MatrixColumn[];
  rows: MatrixRow[];
  threshold: number;
  /** Sub-queries some reference covers. */
  covered: number;
}

function clamp01(v: number): number {
  return Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0;
}

/**
 * refs × sub-queries. Scores come from `matrix.values` (matched by row and column id, so
 * the order of `refs` and `subQueries` need not be the matrix's), falling back to each
 * reference's `coverage`; a missing score is 0. The best cell of a column is the highest
 * score (ties: the earlier reference, as the server attributes), and only when above 0.
 */
export function shapeMatrix(result: Pick<ComplementaryResult, "subQueries" | "refs"> & { matrix?: ComplementaryResult["matrix"] | null }): ShapedMatrix {
  const m = result.matrix;
  const threshold = m && Number.isFinite(m.threshold) ? m.threshold : 0.5;
  const rowIndex = new Map((m?.rows ?? []).map((id, i) => [id, i]));
  const colIndex = new Map((m?.columns ?? []).map((id, i) => [id, i]));
  const subs = result.subQueries.filter(hasId);
  const score = (ref: ComplementaryRef, qid: string): number => {
    const r = rowIndex.get(ref.id);
    const c = colIndex.get(qid);
    const v = r !== undefined && c !== undefined ? m?.values[r]?.[c] : undefined;
    return typeof v === "number" && Number.isFinite(v) ? v : (ref.coverage?.[qid] ?? 0);
  };
  const values = result.refs.map((ref) => subs.map((q) => score(ref, q.id)));
  const columns: MatrixColumn[] = subs.map((q, c) => {
    let best = -1;
    let bestScore = 0;
    values.forEach((row, r) => {
      const v = row[c] ?? 0;
      if (v > bestScore) {
        best = r;
        bestScore = v;
      }
    });
    return {
      id: q.id,
      text: q.text,
      // The schema's default; the server sends every answer's kinds.
      kind: q.kind ?? "subject",
      index: c + 1,
      bestRefId: best >= 0 ? (result.refs[best]?.id ?? null) : null,
      bestScore,
      covered: bestScore >= threshold && bestScore > 0,
    };
  });
  const rows: MatrixRow[] = result.refs.map((ref, r) => ({
    ref,
    cells: subs.map((q, c) => {
      const value = values[r]?.[c] ?? 0;
      return { subQueryId: q.id, value, strength: clamp01(value), covers: value >= threshold && value > 0, best: columns[c]?.bestRefId === ref.id };
    }),
  }));
  return { columns, rows, threshold, covered: columns.filter((c) => c.covered).length };
}

/** Cell colours: indigo at `strength` opacity over white; white text once it is dark enough. */
export function cellShade(strength: number): { backgroundColor: string; color: string } {
  const s = clamp01(strength);
  const alpha = Math.round((0.06 + 0.94 * s) * 100) / 100;
  return { backgroundColor: `rgba(79, 70, 229, ${alpha})`, color: alpha >= 0.55 ? "#ffffff" : "#1e1b4b" };
}

export interface AttributionRow {
  subQueryId: string;
  text: string;
  kind: string;
  ref: ComplementaryRef | null;
  refId: string | null;
  role: string | null;
  weight: number | null;
  score: number;
}

/**
 * What a grounded job says informed each part of the prompt, with the reference's
 * thumbnail looked up in the complementary answer it was generated from.
 */
export function attributionRows(attribution: readonly GenerationAttribution[] | null | undefined, refs: readonly ComplementaryRef[]): AttributionRow[] {
  if (!attribution) return [];
  const byId = new Map(refs.map((r) => [r.id, r]));
  return attribution.map((a) => ({
    subQueryId: a.subQueryId,
    text: a.text,
    kind: a.kind,
    refId: a.refId,
    ref: a.refId ? (byId.get(a.refId) ?? null) : null,
    role: a.role,
    weight: a.weight,
    score: a.score,
  }));
}

function hasId(q: SubQuery): q is SubQuery & { id: string } {
  return typeof q.id === "string";
}

/** A complementary answer as a grounded generation's `complementary`: sent as it came, but
 * for sub-queries without an id, which grounding cannot attribute (the server's answers
 * give every sub-query one; the schema shares the request's model, where it is optional). */
export function toGrounding(result: ComplementaryResult): Grounding {
  return { ...result, subQueries: result.subQueries.filter(hasId) };
}
