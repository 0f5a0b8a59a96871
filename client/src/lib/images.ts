/** Browser-side image helpers: files and URLs → data URLs the API accepts. */
import { authHeaders, readApiKey } from "@/state/apiKey";

export const MAX_QUERY_IMAGE_SIDE = 768;

function loadImage(src: string): Promise<HTMLImageElement> {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.decoding = "async";
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error("That file could not be read as an image."));
    img.src = src;
  });
}

/** Draw an image onto white, scaled to fit `maxSide`, and return a PNG/JPEG data URL. */
export async function toQueryDataUrl(src: string, maxSide = MAX_QUERY_IMAGE_SIDE): Promise<string> {
  const img = await loadImage(src);
  const w = img.naturalWidth || img.width;
  const h = img.naturalHeight || img.height;
  if (!w || !h) throw new Error("That image is empty.");
  const scale = Math.min(1, maxSide / Math.max(w, h));
  const c = document.createElement("canvas");
  c.width = Math.max(1, Math.round(w * scale));
  c.height = Math.max(1, Math.round(h * scale));
  const ctx = c.getContext("2d");
  if (!ctx) throw new Error("This browser cannot draw images.");
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, c.width, c.height);
  ctx.drawImage(img, 0, 0, c.width, c.height);
  return c.toDataURL("image/jpeg", 0.92);
}

export async function fileToQueryDataUrl(file: File): Promise<string> {
  if (!file.type.startsWith("image/")) throw new Error(`"${file.name}" is not an image (${file.type || "unknown type"}).`);
  const url = URL.createObjectURL(file);
  try {
    return await toQueryDataUrl(url);
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** Fetch a same-origin image (a result, a generated image) into a data URL. */
export async function urlToQueryDataUrl(url: string): Promise<string> {
  // Our own images need the API key when the server has keys; other origins never get it.
  const own = url.startsWith("/") && !url.startsWith("//");
  const res = await fetch(url, own ? { headers: authHeaders(readApiKey()) } : undefined);
  if (!res.ok) throw new Error(`Could not load ${url} (HTTP ${res.status}).`);
  const blob = await res.blob();
  const obj = URL.createObjectURL(blob);
  try {
    return await toQueryDataUrl(obj);
  } finally {
    URL.revokeObjectURL(obj);
  }
}

/** The first image file in a clipboard or drop, if any. */
export function firstImageFile(items: DataTransfer | null): File | null {
  if (!items) return null;
  for (const f of Array.from(items.files)) if (f.type.startsWith("image/")) return f;
  return null;
}

export function newKey(): string {
  if (typeof crypto !== "undefined" && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}
