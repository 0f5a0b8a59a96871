import { forwardRef, useEffect, useState, type ComponentProps } from "react";
import { authHeaders, readApiKey } from "@/state/apiKey";
import { needsAuthedFetch } from "@/state/authImage";

/** Where an authed fetch for one `src` ended: the bytes as an object URL, or a failure. */
type Fetched = { src: string; url: string } | { src: string; failed: true };

/**
 * A drop-in `<img>` for server images. With a stored API key, a same-origin path
 * ("/thumb/…") is fetched with `x-api-key` and shown from an object URL, because
 * `<img>` cannot send the header and the server refuses it when `API_KEYS` is set.
 * Without a key (or for data:/blob:/absolute URLs) it is exactly the plain `<img>`.
 */
export const AuthImage = forwardRef<HTMLImageElement, ComponentProps<"img">>(function AuthImage({ src, ...props }, ref) {
  const key = readApiKey();
  const path = typeof src === "string" ? src : undefined;
  const authed = needsAuthedFetch(path, key);
  const [fetched, setFetched] = useState<Fetched | null>(null);

  useEffect(() => {
    if (!authed || !path) return;
    const ctrl = new AbortController();
    let url: string | null = null;
    fetch(path, { headers: authHeaders(key), signal: ctrl.signal })
      .then((res) => {
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        return res.blob();
      })
      .then((blob) => {
        if (ctrl.signal.aborted) return;
        url = URL.createObjectURL(blob);
        setFetched({ src: path, url });
      })
      .catch(() => {
        if (!ctrl.signal.aborted) setFetched({ src: path, failed: true });
      });
    return () => {
      ctrl.abort();
      if (url) URL.revokeObjectURL(url);
    };
  }, [authed, path, key]);

  if (!authed) return <img ref={ref} src={src} {...props} />;
  const mine = fetched?.src === path ? fetched : null;
  // A failed fetch hands the original src to the browser: its own load fails the
  // same way, so the caller's onError gets a real error event (and e.currentTarget.src).
  const shown = mine === null ? undefined : "url" in mine ? mine.url : path;
  return <img ref={ref} src={shown} {...props} />;
});
