/**
 * Sprite atlases for the results grid: one `POST /atlas` per page of hits, each atlas
 * page image loaded once, and per hit what its card should show. Framework-free (the
 * React side is hooks/useAtlas.ts); the network and the image loading are injected.
 */
import { ApiError, isAbort } from "@/api/client";
import type { AtlasResponse } from "@/api/schema";
import { isDrawableSprite, spriteStyle, type SpriteStyle } from "./sprite";

/** The most ids one `POST /atlas` takes. */
export const ATLAS_MAX_IDS = 500;

/**
 * How long a card waits for its sprite before it fetches its own thumbnail. Without a
 * wait every card on screen would start its `/thumb/` request in the moment before the
 * atlas arrives, which is the very traffic the atlas is there to save.
 */
export const ATLAS_GRACE_MS = 1500;

/** A thumbnail drawn from a loaded atlas page. */
export interface SpriteThumb {
  kind: "sprite";
  /** The page image (a blob: URL when fetched, else the page's own URL). */
  src: string;
  style: SpriteStyle;
}

/** The atlas for this hit is on its way: show the empty tile for a moment. */
export interface PendingThumb {
  kind: "pending";
}

/** What a card shows; `null` means its own `<AuthImage>` (no atlas, missing id, failure, waited long enough). */
export type AtlasThumb = SpriteThumb | PendingThumb | null;

export const PENDING: PendingThumb = Object.freeze({ kind: "pending" });

/** A loaded page image; `release` frees it (revokes a blob URL) once no card needs it. */
export interface LoadedAtlasPage {
  src: string;
  release(): void;
}

export interface AtlasStoreDeps {
  /** `cell` undefined: the server's default. */
  fetchAtlas(ids: string[], cell: number | undefined, signal: AbortSignal): Promise<AtlasResponse>;
  loadPage(url: string, signal: AbortSignal): Promise<LoadedAtlasPage>;
  graceMs?: number;
  /** Where failures go: never to the user, the per-thumbnail images cover them. */
  debug?(message: string, detail?: unknown): void;
}

export interface AtlasSnapshot {
  /** Per requested id: its sprite, pending, or null (fall back). */
  thumbs: ReadonlyMap<string, SpriteThumb | PendingThumb | null>;
  /** False once the server showed it has no `/atlas` (an older one): every card uses its own image. */
  accepting: boolean;
}

/** One atlas request's cache key: its ids, sorted, so a re-ranked page of the same hits reuses it. */
export function atlasKey(ids: readonly string[]): string {
  return [...new Set(ids)].sort().join(",");
}

/** The atlas requests for pages of ids: each page on its own (≤ ATLAS_MAX_IDS apiece), ids sorted. */
export function atlasGroups(pages: readonly (readonly string[])[]): string[][] {
  const out: string[][] = [];
  for (const page of pages) {
    const ids = [...new Set(page)].sort();
    for (let i = 0; i < ids.length; i += ATLAS_MAX_IDS) out.push(ids.slice(i, i + ATLAS_MAX_IDS));
  }
  return out;
}

/**
 * The server caps `cell` at its THUMB_SIZE (and wants a multiple of 16), which the client
 * cannot know: a 422 about the cell is answered by asking again with the server's default.
 */
function isCellRefused(e: unknown): boolean {
  return e instanceof ApiError && e.status === 422 && (e.details.field === "cell" || /`cell`/.test(e.message));
}

/** An older server without the route answers 404 (or 405 where a catch-all GET owns the path). */
function isMissingRoute(e: unknown): boolean {
  return e instanceof ApiError && (e.status === 404 || e.status === 405);
}

interface Entry {
  ids: string[];
  ctrl: AbortController;
  timer: ReturnType<typeof setTimeout> | null;
  graceOver: boolean;
  /** Ids whose sprite may still come (the atlas or its page image has not answered). */
  waiting: Set<string>;
  sprites: Map<string, SpriteThumb>;
  loaded: LoadedAtlasPage[];
}

export interface AtlasStore {
  /** Keep atlases for exactly these pages of ids: request the new ones, drop (and free) the rest. */
  sync(pages: readonly (readonly string[])[], cell: number): void;
  snapshot(): AtlasSnapshot;
  subscribe(listener: () => void): () => void;
}

export function createAtlasStore(deps: AtlasStoreDeps): AtlasStore {
  const graceMs = deps.graceMs ?? ATLAS_GRACE_MS;
  const debug = deps.debug ?? ((message: string, detail?: unknown) => console.debug(`[atlas] ${message}`, detail ?? ""));
  const entries = new Map<string, Entry>();
  const listeners = new Set<() => void>();
  let accepting = true;
  let snap: AtlasSnapshot = { thumbs: new Map(), accepting };

  function changed() {
    const thumbs = new Map<string, SpriteThumb | PendingThumb | null>();
    for (const e of entries.values()) {
      for (const id of e.ids) {
        if (thumbs.get(id)) continue; // an earlier atlas already draws it
        thumbs.set(id, e.sprites.get(id) ?? (e.waiting.has(id) && !e.graceOver ? PENDING : null));
      }
    }
    snap = { thumbs, accepting };
    for (const l of [...listeners]) l();
  }

  function drop(key: string) {
    const e = entries.get(key);
    if (!e) return;
    entries.delete(key);
    e.ctrl.abort();
    if (e.timer !== null) clearTimeout(e.timer);
    for (const p of e.loaded) p.release();
  }

  async function load(key: string, e: Entry, cell: number) {
    let atlas: AtlasResponse;
    try {
      atlas = await deps.fetchAtlas(e.ids, cell, e.ctrl.signal).catch((err: unknown) => {
        if (!isCellRefused(err)) throw err;
        debug(`the server refused cell ${cell}; asking for its default`, err);
        return deps.fetchAtlas(e.ids, undefined, e.ctrl.signal);
      });
    } catch (err) {
      if (isAbort(err) || e.ctrl.signal.aborted) return;
      if (isMissingRoute(err)) {
        accepting = false;
        debug("the server has no POST /atlas; using per-thumbnail images", err);
      } else {
        debug(`atlas request for ${e.ids.length} ids failed; using per-thumbnail images`, err);
      }
      e.waiting.clear();
      changed();
      return;
    }
    if (entries.get(key) !== e) return;
    const pages = Array.isArray(atlas.pages) ? atlas.pages : [];
    const byPage = new Map<number, string[]>();
    for (const id of e.ids) {
      const s = atlas.sprites?.[id];
      if (isDrawableSprite(s, pages)) byPage.set(s.page, [...(byPage.get(s.page) ?? []), id]);
      else e.waiting.delete(id); // listed in `missing` (or no usable rectangle): its own image
    }
    if (atlas.missing?.length) debug(`${atlas.missing.length} ids are not in the atlas`, atlas.missing);
    changed();
    await Promise.all(
      [...byPage].map(async ([index, ids]) => {
        const page = pages[index]!;
        let loaded: LoadedAtlasPage;
        try {
          loaded = await deps.loadPage(page.url, e.ctrl.signal);
        } catch (err) {
          if (isAbort(err) || e.ctrl.signal.aborted) return;
          debug(`atlas page ${page.url} did not load; using per-thumbnail images`, err);
          for (const id of ids) e.waiting.delete(id);
          changed();
          return;
        }
        if (entries.get(key) !== e) {
          loaded.release(); // dropped while it loaded
          return;
        }
        e.loaded.push(loaded);
        for (const id of ids) {
          e.sprites.set(id, { kind: "sprite", src: loaded.src, style: spriteStyle(atlas.sprites[id]!, page) });
          e.waiting.delete(id);
        }
        changed();
      }),
    );
  }

  function start(key: string, ids: string[], cell: number) {
    const e: Entry = { ids, ctrl: new AbortController(), timer: null, graceOver: false, waiting: new Set(ids), sprites: new Map(), loaded: [] };
    e.timer = setTimeout(() => {
      e.timer = null;
      e.graceOver = true;
      if (entries.get(key) === e && e.waiting.size) changed();
    }, graceMs);
    entries.set(key, e);
    void load(key, e, cell);
  }

  return {
    sync(pages, cell) {
      const wanted = new Map(atlasGroups(pages).map((ids) => [atlasKey(ids), ids] as const));
      let dirty = false;
      for (const key of [...entries.keys()]) {
        if (!wanted.has(key)) {
          drop(key);
          dirty = true;
        }
      }
      if (accepting) {
        for (const [key, ids] of wanted) {
          if (entries.has(key)) continue;
          start(key, ids, cell);
          dirty = true;
        }
      }
      if (dirty) changed();
    },
    snapshot: () => snap,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/**
 * What the card for `id` shows. An id the store has not been told about yet (the render
 * before the sync effect runs) counts as pending, so its card does not start a thumbnail
 * request in that moment; once the server has shown it lacks `/atlas`, nothing waits.
 */
export function thumbFor(snapshot: AtlasSnapshot, id: string): AtlasThumb {
  const t = snapshot.thumbs.get(id);
  if (t !== undefined) return t;
  return snapshot.accepting ? PENDING : null;
}
