import { describe, expect, it, vi } from "vitest";
import { loadAtlasPage, type AtlasPageLoaderDeps } from "./atlasPage";

function deps(over: Partial<AtlasPageLoaderDeps> = {}) {
  const revoked: string[] = [];
  const d: AtlasPageLoaderDeps = {
    fetch: vi.fn(async () => new Response(new Blob([new Uint8Array([137, 80, 78, 71])], { type: "image/png" }))),
    createObjectURL: vi.fn(() => "blob:one"),
    revokeObjectURL: (u) => revoked.push(u),
    decode: vi.fn(async () => undefined),
    apiKey: () => "k-123",
    ...over,
  };
  return { d, revoked };
}

describe("loadAtlasPage", () => {
  it("fetches the server's page once with the key and hands back a blob URL, revoked on release", async () => {
    const { d, revoked } = deps();
    const page = await loadAtlasPage("/atlas/tok/0.png", new AbortController().signal, d);
    expect(page.src).toBe("blob:one");
    expect(d.fetch).toHaveBeenCalledTimes(1);
    const [url, init] = vi.mocked(d.fetch).mock.calls[0]!;
    expect(url).toBe("/atlas/tok/0.png");
    expect((init?.headers as Record<string, string>)["x-api-key"]).toBe("k-123");
    expect(d.decode).toHaveBeenCalledWith("blob:one");
    page.release();
    page.release();
    expect(revoked).toEqual(["blob:one"]);
  });

  it("sends no key when none is stored", async () => {
    const { d } = deps({ apiKey: () => null });
    await loadAtlasPage("/atlas/tok/0.png", new AbortController().signal, d);
    expect(vi.mocked(d.fetch).mock.calls[0]![1]?.headers).toEqual({});
  });

  it("an expired or refused page is an error (the cards fall back)", async () => {
    const { d } = deps({ fetch: vi.fn(async () => new Response("gone", { status: 404 })) });
    await expect(loadAtlasPage("/atlas/tok/0.png", new AbortController().signal, d)).rejects.toThrow(/HTTP 404/);
  });

  it("revokes the blob when the image does not decode", async () => {
    const { d, revoked } = deps({ decode: vi.fn(async () => Promise.reject(new Error("EncodingError"))) });
    await expect(loadAtlasPage("/atlas/tok/0.png", new AbortController().signal, d)).rejects.toThrow("EncodingError");
    expect(revoked).toEqual(["blob:one"]);
  });

  it("another origin's page is decoded as is: no fetch, no key sent there", async () => {
    const { d } = deps();
    const page = await loadAtlasPage("https://cdn.example.com/a/0.png", new AbortController().signal, d);
    expect(page.src).toBe("https://cdn.example.com/a/0.png");
    expect(d.fetch).not.toHaveBeenCalled();
  });
});
