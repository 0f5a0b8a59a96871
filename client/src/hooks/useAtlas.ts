import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from "react";
import { api } from "@/api/client";
import { loadAtlasPage } from "@/lib/atlasPage";
import { createAtlasStore, thumbFor, type AtlasStore, type AtlasThumb } from "@/state/atlas";
import { atlasCellFor } from "@/state/sprite";

function browserAtlasStore(): AtlasStore {
  return createAtlasStore({
    fetchAtlas: (ids, cell, signal) => api.atlas({ ids, cell }, signal),
    loadPage: (url, signal) => loadAtlasPage(url, signal),
  });
}

/**
 * Sprite atlases for pages of hits (`ResultsState.pageIds`): one request per page, kept
 * while the page is on screen and freed (blob URLs revoked) when it goes. Returns what
 * the card for an id shows. `cardWidth` sizes the cells of atlases not yet asked for;
 * a resize never asks again.
 */
export function useAtlas(pageIds: readonly (readonly string[])[], cardWidth: number): (id: string) => AtlasThumb {
  const [store] = useState(browserAtlasStore);
  const snapshot = useSyncExternalStore(store.subscribe, store.snapshot);
  const width = useRef(cardWidth);
  width.current = cardWidth;

  useEffect(() => {
    store.sync(pageIds, atlasCellFor(width.current, typeof devicePixelRatio === "number" ? devicePixelRatio : 1));
  }, [store, pageIds]);
  // Unmounted (a tab switch, StrictMode's trial unmount): free everything; a remount asks again.
  useEffect(() => () => store.sync([], 0), [store]);

  return useCallback((id: string) => thumbFor(snapshot, id), [snapshot]);
}
