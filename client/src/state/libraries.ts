/** The library picker's list: GET /libraries merged with libraries seen on images. Pure. */
import type { LibraryInfo, LibraryVisibility } from "@/api/schema";
import { isValidLibrary } from "./imports";

/**
 * A library to pick. `listed` false: seen on images or an import but without a record
 * (written before records existed, or imported into by an operator without creating it);
 * GET /libraries lists records only, so these would otherwise vanish from the picker.
 */
export interface LibraryOption {
  name: string;
  owner: string | null;
  visibility: LibraryVisibility | null;
  isDefault: boolean;
  writable: boolean;
  images: number | null;
  listed: boolean;
}

export function fromInfo(l: LibraryInfo): LibraryOption {
  return { name: l.name, owner: l.owner ?? null, visibility: l.visibility, isDefault: !!l.default, writable: l.writable !== false, images: l.images ?? null, listed: true };
}

/** Listed libraries plus any seen names; the default first, then by name; one entry per name. */
export function mergeLibraries(listed: readonly LibraryInfo[], seen: readonly (string | null | undefined)[] = []): LibraryOption[] {
  const byName = new Map<string, LibraryOption>();
  for (const l of listed) if (l?.name && !byName.has(l.name)) byName.set(l.name, fromInfo(l));
  for (const name of seen) {
    if (!name || byName.has(name)) continue;
    byName.set(name, { name, owner: null, visibility: null, isDefault: false, writable: true, images: null, listed: false });
  }
  return [...byName.values()].sort((a, b) => Number(b.isDefault) - Number(a.isDefault) || a.name.localeCompare(b.name));
}

/** The picker's words for a library: name, then owner and visibility when known. */
export function libraryLabel(o: LibraryOption): string {
  const bits = [o.visibility, o.owner ? `owner ${o.owner}` : null, o.isDefault ? "default" : null, o.listed && !o.writable ? "read-only" : null].filter(Boolean);
  return bits.length ? `${o.name} (${bits.join(", ")})` : o.name;
}

/**
 * Where an import goes when the dialog opens: the library picked, when the key may write
 * it; else the first writable non-default library GET /libraries lists; else the listed
 * default when writable; else "" (the user names one: nothing is invented for them).
 */
export function defaultImportLibrary(options: readonly LibraryOption[], selected: string): string {
  const picked = options.find((o) => o.name === selected);
  if (selected && (!picked || picked.writable)) return selected;
  const writable = options.filter((o) => o.listed && o.writable);
  return (writable.find((o) => !o.isDefault) ?? writable[0])?.name ?? "";
}

/** Why a new library's name is refused, or null (the server's rule: 1–64 of A-Z a-z 0-9 - _). */
export function newLibraryProblem(name: string, options: readonly LibraryOption[]): string | null {
  const n = name.trim();
  if (!n) return "Give the library a name.";
  if (!isValidLibrary(n)) return "1–64 letters, digits, - and _ only.";
  if (options.some((o) => o.listed && o.name === n)) return `“${n}” already exists.`;
  return null;
}

/** Whether the delete button may be offered: never for the default library or one the key cannot write. */
export function canDeleteLibrary(o: LibraryOption | undefined): boolean {
  return !!o && o.listed && !o.isDefault && o.writable;
}
