/** Undo/redo over drawing actions. Generic and pure; the canvas applies the actions. */

export interface History<A> {
  past: A[];
  future: A[];
}

export const MAX_HISTORY = 200;

export function emptyHistory<A>(): History<A> {
  return { past: [], future: [] };
}

/** A new action: it becomes undoable and the redo branch is dropped. */
export function record<A>(h: History<A>, action: A): History<A> {
  const past = [...h.past, action];
  return { past: past.length > MAX_HISTORY ? past.slice(past.length - MAX_HISTORY) : past, future: [] };
}

/** The action to revert, and the history after it; null when there is nothing to undo. */
export function undo<A>(h: History<A>): { action: A; history: History<A> } | null {
  const action = h.past[h.past.length - 1];
  if (action === undefined) return null;
  return { action, history: { past: h.past.slice(0, -1), future: [action, ...h.future] } };
}

/** The action to re-apply, and the history after it; null when there is nothing to redo. */
export function redo<A>(h: History<A>): { action: A; history: History<A> } | null {
  const action = h.future[0];
  if (action === undefined) return null;
  return { action, history: { past: [...h.past, action], future: h.future.slice(1) } };
}
