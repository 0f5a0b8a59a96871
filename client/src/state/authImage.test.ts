import { describe, expect, it } from "vitest";
import { needsAuthedFetch } from "./authImage";

describe("needsAuthedFetch", () => {
  it("fetches the server's own paths when a key is stored", () => {
    expect(needsAuthedFetch("/thumb/abc", "k")).toBe(true);
    expect(needsAuthedFetch("/image/abc", "k")).toBe(true);
    expect(needsAuthedFetch("/generated/x.png", "k")).toBe(true);
  });

  it("leaves every image to the plain img without a key", () => {
    expect(needsAuthedFetch("/thumb/abc", null)).toBe(false);
    expect(needsAuthedFetch("/thumb/abc", "")).toBe(false);
  });

  it("leaves data, blob, absolute and protocol-relative URLs to the plain img", () => {
    expect(needsAuthedFetch("data:image/png;base64,AAAA", "k")).toBe(false);
    expect(needsAuthedFetch("blob:http://localhost/1234", "k")).toBe(false);
    expect(needsAuthedFetch("https://example.com/a.png", "k")).toBe(false);
    expect(needsAuthedFetch("//example.com/a.png", "k")).toBe(false);
  });

  it("does nothing for a missing src", () => {
    expect(needsAuthedFetch(undefined, "k")).toBe(false);
    expect(needsAuthedFetch("", "k")).toBe(false);
  });
});
