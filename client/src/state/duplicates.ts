/** The duplicates report: which members to delete per group (the keeper never), and pruning. Pure. */
import type { DuplicateGroup, DuplicateReport } from "@/api/schema";

export interface GroupSelection {
  keep: string;
  /** Members marked for deletion. */
  remove: string[];
}

/** Group key → selection. */
export type DuplicateSelection = Record<string, GroupSelection>;

export type DuplicateAction =
  | { type: "init"; report: DuplicateReport }
  | { type: "toggle"; group: string; id: string }
  | { type: "keep"; group: string; id: string }
  | { type: "markOthers"; group: string; members: readonly string[] }
  | { type: "clear" }
  | { type: "deleted"; ids: readonly string[] };

export function groupKey(group: Pick<DuplicateGroup, "kind" | "keep">): string {
  return `${group.kind}:${group.keep}`;
}

export function allGroups(report: DuplicateReport | null): DuplicateGroup[] {
  return report ? [...report.exact, ...report.near] : [];
}

/**
 * Nothing is marked to start with: a group is a suggestion (near groups above all — with
 * weak image weights one "group" can hold dozens of different pictures), and a person ticks
 * what goes, one by one or with "mark the others" per group.
 */
export function initialSelection(report: DuplicateReport): DuplicateSelection {
  const out: DuplicateSelection = {};
  for (const g of allGroups(report)) out[groupKey(g)] = { keep: g.keep, remove: [] };
  return out;
}

/** Why the members of a group are together, in words a person can check. */
export function groupReason(group: DuplicateGroup, threshold: number): string {
  if (group.kind === "exact") return "Same file content (identical SHA-256)";
  const lo = group.minScore;
  const hi = group.maxScore;
  const span = lo != null && hi != null ? (lo.toFixed(3) === hi.toFixed(3) ? lo.toFixed(3) : `${lo.toFixed(3)}–${hi.toFixed(3)}`) : "?";
  return `Image similarity ${span} (cosine, at or above ${threshold})`;
}

/** Deleting more than this many at once asks the person to type the count. */
export const CONFIRM_ABOVE = 3;

export function needsTypedConfirm(count: number, above: number = CONFIRM_ABOVE): boolean {
  return count > above;
}

/** The typed confirmation: the number of items, or the word "delete". */
export function confirmMatches(typed: string, count: number): boolean {
  const t = typed.trim().toLowerCase();
  return t === String(count) || t === "delete";
}

/** "Deleted in 2 h" style: how long an item in the trash can still be restored. */
export function restoreWindow(purgeAt: string, now: number = Date.now()): string {
  const ms = Date.parse(purgeAt) - now;
  if (!Number.isFinite(ms) || ms <= 0) return "purged soon";
  const h = ms / 3_600_000;
  if (h >= 48) return `restorable for ${Math.floor(h / 24)} days`;
  if (h >= 1) return `restorable for ${Math.floor(h)} h`;
  return `restorable for ${Math.max(1, Math.floor(ms / 60_000))} min`;
}

export function selectionReducer(sel: DuplicateSelection, action: DuplicateAction): DuplicateSelection {
  switch (action.type) {
    case "init":
      return initialSelection(action.report);
    case "toggle": {
      const g = sel[action.group];
      if (!g || action.id === g.keep) return sel;
      const remove = g.remove.includes(action.id) ? g.remove.filter((x) => x !== action.id) : [...g.remove, action.id];
      return { ...sel, [action.group]: { ...g, remove } };
    }
    case "keep": {
      const g = sel[action.group];
      if (!g || action.id === g.keep) return sel;
      // The new keeper is spared; the old one is not marked (a person decides about it).
      return { ...sel, [action.group]: { keep: action.id, remove: g.remove.filter((x) => x !== action.id) } };
    }
    case "markOthers": {
      // Every member but the keeper: a person's explicit choice for this one group.
      const g = sel[action.group];
      if (!g) return sel;
      return { ...sel, [action.group]: { ...g, remove: action.members.filter((id) => id !== g.keep) } };
    }
    case "clear": {
      const out: DuplicateSelection = {};
      for (const [k, g] of Object.entries(sel)) out[k] = { ...g, remove: [] };
      return out;
    }
    case "deleted": {
      const gone = new Set(action.ids);
      const out: DuplicateSelection = {};
      for (const [k, g] of Object.entries(sel)) out[k] = { ...g, remove: g.remove.filter((x) => !gone.has(x)) };
      return out;
    }
  }
}

/**
 * Every id marked for deletion, once, in group order, never one that is a keeper of any
 * group (an item can sit in an exact and a near group at once).
 */
export function idsToDelete(sel: DuplicateSelection): string[] {
  const keepers = new Set(Object.values(sel).map((g) => g.keep));
  const out: string[] = [];
  for (const g of Object.values(sel)) for (const id of g.remove) if (!keepers.has(id) && !out.includes(id)) out.push(id);
  return out;
}

/** The report without deleted members; a group left with fewer than two members is gone. */
export function pruneReport(report: DuplicateReport, deleted: readonly string[]): DuplicateReport {
  const gone = new Set(deleted);
  const prune = (groups: DuplicateGroup[]) =>
    groups
      .map((g) => ({ ...g, members: g.members.filter((m) => !gone.has(m.id)) }))
      .filter((g) => g.members.length >= 2 && g.members.some((m) => m.id === g.keep));
  return { ...report, exact: prune(report.exact), near: prune(report.near) };
}
