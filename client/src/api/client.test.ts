import { afterEach, describe, expect, it, vi } from "vitest";
import { api, ApiError, fetchJson, isAbort, NetworkError, queryString } from "./client";

function stubFetch(impl: (url: string, init: RequestInit) => Promise<Response>) {
  const fn = vi.fn(impl);
  vi.stubGlobal("fetch", fn);
  return fn;
}

afterEach(() => vi.unstubAllGlobals());

describe("fetchJson", () => {
  it("posts JSON and returns the parsed body", async () => {
    const fn = stubFetch(async () => new Response(JSON.stringify({ ok: 1 }), { status: 200 }));
    await expect(fetchJson("/x", { body: { a: 1 } })).resolves.toEqual({ ok: 1 });
    const [url, init] = fn.mock.calls[0]!;
    expect(url).toBe("/x");
    expect(init.method).toBe("POST");
    expect((init.headers as Record<string, string>)["Content-Type"]).toBe("application/json");
    expect(init.body).toBe('{"a":1}');
  });

  it("turns the contract's problem details into an ApiError with code, message, request id and fields", async () => {
    const problem = {
      type: "https://clippy.dev/problems/invalid_input",
      title: "Invalid input",
      status: 422,
      detail: "`wImg`: must be >= 0",
      instance: "/search/hybrid",
      code: "invalid_input",
      requestId: "r1",
      errors: [{ field: "wImg", message: "must be >= 0" }],
      limit: 5,
    };
    stubFetch(async () => new Response(JSON.stringify(problem), { status: 422, headers: { "Content-Type": "application/problem+json" } }));
    const e = await fetchJson("/search/hybrid", { body: {} }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect(e).toMatchObject({
      status: 422,
      code: "invalid_input",
      message: "`wImg`: must be >= 0",
      requestId: "r1",
      errors: [{ field: "wImg", message: "must be >= 0" }],
      details: { field: "wImg", limit: 5 },
    });
  });

  it("reads FastAPI's {detail} and says a gateway error means the API is not answering", async () => {
    stubFetch(async () => new Response(JSON.stringify({ detail: "Not Found" }), { status: 404 }));
    await expect(fetchJson("/nope")).rejects.toMatchObject({ code: "not_found", message: "Not Found" });
    stubFetch(async () => new Response("<html>bad gateway</html>", { status: 502 }));
    await expect(fetchJson("/x")).rejects.toMatchObject({ status: 502, message: "The Clippy API is not answering (HTTP 502)." });
  });

  it("a refused connection is a NetworkError; an abort stays an AbortError", async () => {
    stubFetch(async () => {
      throw new TypeError("Failed to fetch");
    });
    await expect(fetchJson("/x")).rejects.toBeInstanceOf(NetworkError);
    stubFetch(async () => {
      throw new DOMException("aborted", "AbortError");
    });
    const e = await fetchJson("/x").catch((x: unknown) => x);
    expect(isAbort(e)).toBe(true);
  });

  it("a 200 that is not JSON is an ApiError", async () => {
    stubFetch(async () => new Response("<html></html>", { status: 200 }));
    await expect(fetchJson("/x")).rejects.toMatchObject({ code: "bad_response" });
  });

  it("generate sends the Idempotency-Key header; job ids are URL-encoded", async () => {
    const fn = stubFetch(async () => new Response("{}", { status: 202 }));
    await api.generate({ prompt: "p", refs: [] }, "key-1");
    expect((fn.mock.calls[0]![1].headers as Record<string, string>)["Idempotency-Key"]).toBe("key-1");
    await api.job("a/b");
    expect(fn.mock.calls[1]![0]).toBe("/jobs/a%2Fb");
  });

  it("library calls: query strings leave out empty values; imports go multipart with the files and JSON tags", async () => {
    expect(queryString({ library: "", tag: "cat toy", cursor: null, limit: 60 })).toBe("?tag=cat+toy&limit=60");
    expect(queryString({ a: undefined })).toBe("");
    const fn = stubFetch(async () => new Response("{}", { status: 202 }));
    await api.listImages({ library: "uploads", tag: null, limit: 10 });
    expect(fn.mock.calls[0]![0]).toBe("/images?library=uploads&limit=10");
    await api.importFiles("my lib", [new File(["x"], "a.png", { type: "image/png" })], ["e2e", "x"], "k1");
    const [url, init] = fn.mock.calls[1]!;
    expect(url).toBe("/libraries/my%20lib/imports");
    const form = init.body as FormData;
    expect((form.getAll("files")[0] as File).name).toBe("a.png");
    expect(form.get("tags")).toBe('["e2e","x"]');
    expect((init.headers as Record<string, string>)["Content-Type"]).toBeUndefined(); // the browser sets the boundary
    expect((init.headers as Record<string, string>)["Idempotency-Key"]).toBe("k1");
    await api.importUrls("u", ["https://a/x.png"], [], "k2");
    expect(JSON.parse(fn.mock.calls[2]![1].body as string)).toEqual({ urls: ["https://a/x.png"], tags: [] });
    await api.deleteImage("id-1");
    expect(fn.mock.calls[3]![1].method).toBe("DELETE");
  });

  it("sends the stored API key as x-api-key on every call, and nothing without one", async () => {
    const fn = stubFetch(async () => new Response("{}", { status: 200 }));
    await api.info();
    expect((fn.mock.calls[0]![1].headers as Record<string, string>)["x-api-key"]).toBeUndefined();
    const data = new Map([["clippy.apiKey", "k-0123456789abcdef"]]);
    vi.stubGlobal("localStorage", { getItem: (k: string) => data.get(k) ?? null, setItem: () => {}, removeItem: () => {} });
    await api.info();
    await api.importFiles("l", [new File(["x"], "a.png", { type: "image/png" })], [], "k1");
    for (const call of fn.mock.calls.slice(1)) expect((call[1].headers as Record<string, string>)["x-api-key"]).toBe("k-0123456789abcdef");
  });

  it("libraries: list, create with a visibility, delete by URL-encoded name", async () => {
    const fn = stubFetch(async () => new Response(JSON.stringify({ libraries: [] }), { status: 200 }));
    await expect(api.listLibraries()).resolves.toEqual({ libraries: [] });
    expect(fn.mock.calls[0]![0]).toBe("/libraries");
    await api.createLibrary("e2e-lib", "public");
    expect(fn.mock.calls[1]![1].method).toBe("POST");
    expect(JSON.parse(fn.mock.calls[1]![1].body as string)).toEqual({ name: "e2e-lib", visibility: "public" });
    await api.deleteLibrary("a b");
    expect(fn.mock.calls[2]![0]).toBe("/libraries/a%20b");
    expect(fn.mock.calls[2]![1].method).toBe("DELETE");
    stubFetch(async () => new Response(JSON.stringify({ code: "conflict", detail: "library 'x' already exists; pick another name.", status: 409, errors: [] }), { status: 409 }));
    await expect(api.createLibrary("x", "private")).rejects.toMatchObject({ status: 409, message: "library 'x' already exists; pick another name." });
  });

  it("imports send skipNearDuplicates (and a threshold) only when asked", async () => {
    const fn = stubFetch(async () => new Response("{}", { status: 202 }));
    const file = new File(["x"], "a.png", { type: "image/png" });
    await api.importFiles("l", [file], [], "k1", { skipNearDuplicates: true, nearDuplicateThreshold: 0.97 });
    const form = fn.mock.calls[0]![1].body as FormData;
    expect(form.get("skipNearDuplicates")).toBe("true");
    expect(form.get("nearDuplicateThreshold")).toBe("0.97");
    await api.importFiles("l", [file], [], "k2");
    expect((fn.mock.calls[1]![1].body as FormData).has("skipNearDuplicates")).toBe(false);
    await api.importUrls("l", ["https://a/x.png"], [], "k3", { skipNearDuplicates: true });
    expect(JSON.parse(fn.mock.calls[2]![1].body as string)).toEqual({
      urls: ["https://a/x.png"],
      tags: [],
      skipNearDuplicates: true,
      nearDuplicateThreshold: null,
    });
  });
});

describe("api.atlas", () => {
  afterEach(() => vi.unstubAllGlobals());
  it("posts the ids and cell to /atlas and returns the manifest", async () => {
    const manifest = { cell: 128, padding: 2, pages: [{ url: "/atlas/t/0.png", width: 128, height: 128 }], sprites: { a: { page: 0, x: 2, y: 2, w: 124, h: 124 } }, missing: [] };
    const fn = stubFetch(async () => new Response(JSON.stringify(manifest), { status: 200 }));
    await expect(api.atlas({ ids: ["a"], cell: 128 })).resolves.toEqual(manifest);
    const [url, init] = fn.mock.calls[0]!;
    expect(url).toBe("/atlas");
    expect(init.method).toBe("POST");
    expect(JSON.parse(String(init.body))).toEqual({ ids: ["a"], cell: 128 });
  });
});
