/** The optional API key: kept in localStorage, sent as `x-api-key`. Pure but for the storage it is given. */

export const API_KEY_STORAGE = "clippy.apiKey";
export const API_KEY_HEADER = "x-api-key";

/** The part of `Storage` used here, so tests can pass a Map-backed one. */
export type KeyStorage = Pick<Storage, "getItem" | "setItem" | "removeItem">;

/** The browser's localStorage, or null where there is none (tests, private modes that throw). */
export function browserStorage(): KeyStorage | null {
  try {
    return typeof localStorage === "undefined" ? null : localStorage;
  } catch {
    return null;
  }
}

/** A key as typed: surrounding spaces dropped; empty means "no key". */
export function normalizeApiKey(raw: string | null | undefined): string | null {
  const key = (raw ?? "").trim();
  return key ? key : null;
}

export function readApiKey(storage: KeyStorage | null = browserStorage()): string | null {
  try {
    return normalizeApiKey(storage?.getItem(API_KEY_STORAGE));
  } catch {
    return null;
  }
}

/** Save the key (or forget it when empty); returns what is stored now. */
export function writeApiKey(raw: string | null, storage: KeyStorage | null = browserStorage()): string | null {
  const key = normalizeApiKey(raw);
  if (!storage) return null;
  if (key) storage.setItem(API_KEY_STORAGE, key);
  else storage.removeItem(API_KEY_STORAGE);
  return key;
}

/** The header to add to a request: none without a key (the server allows all when API_KEYS is unset). */
export function authHeaders(key: string | null): Record<string, string> {
  return key ? { [API_KEY_HEADER]: key } : {};
}

/** "abcd…wxyz" for showing which key is in use without showing it. */
export function maskApiKey(key: string | null): string {
  if (!key) return "";
  return key.length <= 8 ? "•".repeat(key.length) : `${key.slice(0, 4)}…${key.slice(-4)}`;
}
