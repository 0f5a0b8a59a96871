/** When an image must be fetched with the API key instead of handed to `<img src>`. Pure. */

/**
 * True when `src` is one of the server's own paths ("/thumb/…", "/image/…",
 * "/generated/…") and a key is stored: `<img>` cannot send `x-api-key`, so with
 * `API_KEYS` set the server would refuse it. Without a key, and for data:, blob:,
 * absolute or protocol-relative ("//host/…") URLs, the plain `<img>` is used as is.
 */
export function needsAuthedFetch(src: string | null | undefined, key: string | null): boolean {
  if (!key || !src) return false;
  return src.startsWith("/") && !src.startsWith("//");
}
