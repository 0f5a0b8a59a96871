import { describe, expect, it } from "vitest";
import type { InfoResponse, Job } from "@/api/schema";
import { docsHref, jobFailure, providerGate } from "./providers";

const INFO = {
  generationProvider: "sdxl",
  providers: {
    sdxl: { available: false, reason: "SDXL_MODEL=x: not on disk; run `clippy models pull sdxl`", setting: "SDXL_MODEL", docs: "docs/operations.md#model-weights-clippy-models-pull" },
    gemini: { available: true, reason: "ready", setting: "GOOGLE_CLOUD_PROJECT", docs: "docs/operations.md#google-imagen-and-gemini" },
  },
} as unknown as InfoResponse;

describe("providerGate", () => {
  it("blocks the server's default provider when /info says it is unavailable, with the reason and the docs", () => {
    const gate = providerGate(INFO, "");
    expect(gate.available).toBe(false);
    expect(gate.reason).toContain("sdxl is unavailable");
    expect(gate.reason).toContain("clippy models pull sdxl");
    expect(gate.href).toBeNull(); // a repository path (no DOCS_URL): shown as text, not a dead link
    expect(gate.docs).toBe("docs/operations.md#model-weights-clippy-models-pull");
  });

  it("lets an available provider chosen by name through", () => {
    expect(providerGate(INFO, "gemini")).toEqual({ available: true, reason: null, href: null, docs: null });
  });

  it("blocks nothing before /info arrives or when the server does not report providers", () => {
    expect(providerGate(null, "").available).toBe(true);
    expect(providerGate({ generationProvider: "sdxl" } as unknown as InfoResponse, "").available).toBe(true);
  });

  it("links the docs when the server publishes them under DOCS_URL", () => {
    const published = { ...INFO, providers: { sdxl: { ...INFO.providers!.sdxl, docs: "https://example.org/docs/operations.md#m" } } } as InfoResponse;
    expect(providerGate(published, "sdxl").href).toBe("https://example.org/docs/operations.md#m");
  });

  it("keeps absolute documentation links", () => {
    expect(docsHref("https://example.org/ops#x")).toBe("https://example.org/ops#x");
    expect(docsHref("")).toBeNull();
  });
});

describe("jobFailure", () => {
  const failed = (error: Job["error"]) => ({ id: "j", kind: "generate", status: "failed", error, createdAt: "", updatedAt: "" }) as Job;

  it("shows the one-line message and keeps the technical text for the details toggle", () => {
    const f = jobFailure(failed({ code: "weights_unavailable", message: "SDXL is not on disk: run `clippy models pull sdxl`.", detail: "OSError: long trace" }));
    expect(f).toEqual({ message: "SDXL is not on disk: run `clippy models pull sdxl`.", detail: "OSError: long trace" });
  });

  it("has no details when the server sent none (older servers), and nothing for jobs that did not fail", () => {
    expect(jobFailure(failed({ code: "timeout", message: "Too long." }))).toEqual({ message: "Too long.", detail: null });
    expect(jobFailure({ ...failed(null), status: "succeeded" } as Job)).toBeNull();
    expect(jobFailure(failed(null))?.message).toMatch(/no reason/);
  });
});
