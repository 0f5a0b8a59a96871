/** Timing helpers for "search when things settle": a debouncer and a stale-response guard. Pure and clock-injectable. */

export interface Clock {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: Clock = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
};

export interface Debounced<A extends unknown[]> {
  /** Schedule fn(...args) after `ms` of quiet; a new call replaces the pending one. */
  call(...args: A): void;
  /** Run the pending call now (if any). */
  flush(): void;
  cancel(): void;
  pending(): boolean;
}

export function debounce<A extends unknown[]>(fn: (...args: A) => void, ms: number, clock: Clock = realClock): Debounced<A> {
  let handle: unknown = null;
  let lastArgs: A | null = null;
  const fire = () => {
    handle = null;
    const args = lastArgs;
    lastArgs = null;
    if (args) fn(...args);
  };
  return {
    call(...args: A) {
      lastArgs = args;
      if (handle !== null) clock.clearTimeout(handle);
      handle = clock.setTimeout(fire, ms);
    },
    flush() {
      if (handle === null) return;
      clock.clearTimeout(handle);
      fire();
    },
    cancel() {
      if (handle !== null) clock.clearTimeout(handle);
      handle = null;
      lastArgs = null;
    },
    pending: () => handle !== null,
  };
}

/**
 * Only the latest request may write results. `begin()` hands out a ticket; a
 * response whose ticket is no longer the latest is stale and must be dropped.
 */
export interface LatestGuard {
  begin(): number;
  isLatest(ticket: number): boolean;
  /** Invalidate every ticket handed out so far (e.g. the query was cleared). */
  invalidate(): void;
}

export function latestGuard(): LatestGuard {
  let latest = 0;
  return {
    begin: () => ++latest,
    isLatest: (t) => t === latest,
    invalidate: () => {
      latest++;
    },
  };
}
