import { describe, expect, it } from "vitest";
import type { LibraryInfo } from "@/api/schema";
import { API_KEY_HEADER, API_KEY_STORAGE, authHeaders, maskApiKey, normalizeApiKey, readApiKey, writeApiKey, type KeyStorage } from "./apiKey";
import { canDeleteLibrary, defaultImportLibrary, libraryLabel, mergeLibraries, newLibraryProblem } from "./libraries";

function lib(over: Partial<LibraryInfo> & { name: string }): LibraryInfo {
  return { owner: null, visibility: "private", default: false, writable: true, images: 0, createdAt: null, ...over };
}

function memoryStorage(): KeyStorage & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return {
    data,
    getItem: (k) => data.get(k) ?? null,
    setItem: (k, v) => void data.set(k, v),
    removeItem: (k) => void data.delete(k),
  };
}

describe("the library list", () => {
  const listed = [lib({ name: "zoo", visibility: "public", owner: "team-a" }), lib({ name: "default", visibility: "public", default: true, writable: false }), lib({ name: "alpha" })];

  it("puts the default library first, then sorts by name, and adds libraries only seen on images", () => {
    const options = mergeLibraries(listed, ["uploads", "alpha", null, "", "uploads"]);
    expect(options.map((o) => o.name)).toEqual(["default", "alpha", "uploads", "zoo"]);
    expect(options.find((o) => o.name === "uploads")).toMatchObject({ listed: false, visibility: null, writable: true });
    expect(options.find((o) => o.name === "alpha")).toMatchObject({ listed: true, visibility: "private" });
  });

  it("labels each library with its visibility, owner, and whether it is the default or read-only", () => {
    const [def, alpha, uploads, zoo] = mergeLibraries(listed, ["uploads"]);
    expect(libraryLabel(def!)).toBe("default (public, default, read-only)");
    expect(libraryLabel(alpha!)).toBe("alpha (private)");
    expect(libraryLabel(uploads!)).toBe("uploads");
    expect(libraryLabel(zoo!)).toBe("zoo (public, owner team-a)");
  });

  it("imports into the picked library when writable, else the first writable listed one, else nothing it would invent", () => {
    const options = mergeLibraries(listed);
    expect(defaultImportLibrary(options, "zoo")).toBe("zoo");
    expect(defaultImportLibrary(options, "default")).toBe("alpha");
    expect(defaultImportLibrary(options, "")).toBe("alpha");
    expect(defaultImportLibrary(mergeLibraries([listed[1]!]), "")).toBe("");
    expect(defaultImportLibrary(mergeLibraries([{ ...listed[1]!, writable: true }]), "")).toBe("default");
    // A name only seen on images is not offered by itself.
    expect(defaultImportLibrary(mergeLibraries([listed[1]!], ["uploads"]), "")).toBe("");
    // A name typed or seen but not listed is still the user's choice.
    expect(defaultImportLibrary(options, "fresh")).toBe("fresh");
  });

  it("refuses bad or taken names for a new library and never offers to delete the default or a read-only one", () => {
    const options = mergeLibraries(listed, ["uploads"]);
    expect(newLibraryProblem("  ", options)).toMatch(/name/);
    expect(newLibraryProblem("my lib", options)).toMatch(/letters, digits/);
    expect(newLibraryProblem("x".repeat(65), options)).toMatch(/1–64/);
    expect(newLibraryProblem("alpha", options)).toMatch(/already exists/);
    expect(newLibraryProblem("uploads", options)).toBeNull(); // only seen: the server decides
    expect(newLibraryProblem("e2e-lib_2", options)).toBeNull();
    const by = (n: string) => options.find((o) => o.name === n);
    expect([by("default"), by("alpha"), by("uploads"), undefined].map(canDeleteLibrary)).toEqual([false, true, false, false]);
    expect(canDeleteLibrary(mergeLibraries([lib({ name: "theirs", writable: false })])[0])).toBe(false);
  });
});

describe("the API key", () => {
  it("is stored trimmed under clippy.apiKey, and forgotten when emptied", () => {
    const s = memoryStorage();
    expect(readApiKey(s)).toBeNull();
    expect(writeApiKey("  k-0123456789abcdef \n", s)).toBe("k-0123456789abcdef");
    expect(s.data.get(API_KEY_STORAGE)).toBe("k-0123456789abcdef");
    expect(readApiKey(s)).toBe("k-0123456789abcdef");
    expect(writeApiKey("   ", s)).toBeNull();
    expect(s.data.has(API_KEY_STORAGE)).toBe(false);
    expect(readApiKey(null)).toBeNull();
    const broken: KeyStorage = { getItem: () => { throw new Error("denied"); }, setItem: () => {}, removeItem: () => {} };
    expect(readApiKey(broken)).toBeNull();
  });

  it("becomes an x-api-key header only when there is one, and is masked for display", () => {
    expect(authHeaders(null)).toEqual({});
    expect(authHeaders("abc")).toEqual({ [API_KEY_HEADER]: "abc" });
    expect(API_KEY_HEADER).toBe("x-api-key");
    expect(normalizeApiKey(undefined)).toBeNull();
    expect(maskApiKey("0123456789abcdef")).toBe("0123…cdef");
    expect(maskApiKey("short")).toBe("•••••");
    expect(maskApiKey(null)).toBe("");
  });
});
