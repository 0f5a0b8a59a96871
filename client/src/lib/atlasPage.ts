/** Browser side of the atlas: fetch a page image once, decode it, hand back a URL the CSS can use. */
import { authHeaders, readApiKey } from "@/state/apiKey";
import type { LoadedAtlasPage } from "@/state/atlas";

export interface AtlasPageLoaderDeps {
  fetch: typeof fetch;
  createObjectURL(blob: Blob): string;
  revokeObjectURL(url: string): void;
  /** Resolves once `src` is decoded, so switching a card to its sprite never paints an empty box. */
  decode(src: string): Promise<unknown>;
  apiKey(): string | null;
}

function decodeWithImage(src: string): Promise<HTMLImageElement> {
  const img = new Image();
  img.decoding = "async";
  img.src = src;
  return img.decode().then(() => img);
}

const browserDeps: AtlasPageLoaderDeps = {
  fetch: (...args) => fetch(...args),
  createObjectURL: (blob) => URL.createObjectURL(blob),
  revokeObjectURL: (url) => URL.revokeObjectURL(url),
  decode: decodeWithImage,
  apiKey: () => readApiKey(),
};

/** The server's own paths ("/atlas/…"), which a fetch may send the key to. */
function isOwnPath(url: string): boolean {
  return url.startsWith("/") && !url.startsWith("//");
}

/**
 * Load one atlas page. The server's own pages are fetched (with `x-api-key` when a key is
 * stored, which a CSS `url()` cannot send) into a blob: URL: one request per page however
 * many cards use it, and the pixels stay usable after the page URL expires. Another
 * origin's URL is decoded as is (no key, no CORS needed). `release` revokes the blob.
 */
export async function loadAtlasPage(url: string, signal: AbortSignal, deps: AtlasPageLoaderDeps = browserDeps): Promise<LoadedAtlasPage> {
  if (!isOwnPath(url)) {
    await deps.decode(url);
    return { src: url, release: () => {} };
  }
  const res = await deps.fetch(url, { headers: authHeaders(deps.apiKey()), signal });
  if (!res.ok) throw new Error(`HTTP ${res.status} for ${url}`);
  const blob = await res.blob();
  signal.throwIfAborted();
  const src = deps.createObjectURL(blob);
  try {
    await deps.decode(src);
    signal.throwIfAborted();
  } catch (e) {
    deps.revokeObjectURL(src);
    throw e;
  }
  let released = false;
  return {
    src,
    release: () => {
      if (released) return;
      released = true;
      deps.revokeObjectURL(src);
    },
  };
}
