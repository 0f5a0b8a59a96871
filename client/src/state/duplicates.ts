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
  | { type: "deleted"; ids: readonly string[] };

export function groupKey(group: Pick<DuplicateGroup, "kind" | "keep">): string {
  return `${group.kind}:${group.keep}`;
}

export function allGroups(report: DuplicateReport | null): DuplicateGroup[] {
  return report ? [...report.exact, ...report.near] : [];
}

/** By default every member but the suggested keeper is marked for deletion. */
export function initialSelection(report: DuplicateReport): DuplicateSelection {
  const out: DuplicateSelection = {};
  for (const g of allGroups(report)) {
    out[groupKey(g)] = { keep: g.keep, remove: g.members.map((m) => m.id).filter((id) => id !== g.keep) };
  }
  return out;
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
