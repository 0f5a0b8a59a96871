import { describe, expect, it } from "vitest";
import type { InfoResponse } from "@/api/schema";
import { summarizeInfo } from "./info";

// The server's defaults table; summarizeInfo does not read it.
const DEFAULTS: InfoResponse["defaults"] = { kinds: {}, source: "a test table", withoutSignal: {} };
const RUNNING: InfoResponse["running"] = { model: "clippy-tiny", pretrained: "random", randomWeights: true, textModel: "clip", device: "cpu" };

describe("summarizeInfo", () => {
  it("lists the collection's views and versions", () => {
    const s = summarizeInfo({
      collection: "clippy",
      defaults: DEFAULTS,
      exists: true,
      points: 48,
      model: "ViT-B-32",
      pretrained: "random",
      randomWeights: true,
      textModel: "clip",
      vectors: { image: 512, edge: 512, text: 512, shape: 576 },
      sparse: ["tags"],
      edgeVersion: "canny-v1",
      shapeVersion: "hog-5x5-v1",
      running: { ...RUNNING, model: "ViT-B-32" },
      usable: true,
    });
    expect(s).toMatchObject({ points: 48, model: "ViT-B-32", pretrained: "random", randomWeights: true, problem: null });
    expect(s.details).toContain("edges canny-v1");
    expect(s.details).toContain("vectors image, edge, text, shape");
    expect(s.details).toContain("shape hog-5x5-v1");
    expect(s.details).toContain("device cpu");
  });

  it("names the running model, not the collection's", () => {
    const s = summarizeInfo({
      collection: "clippy",
      defaults: DEFAULTS,
      exists: true,
      points: 54,
      model: "ViT-L-14",
      pretrained: "openai",
      randomWeights: false,
      running: RUNNING,
      usable: false,
    });
    expect(s).toMatchObject({ points: 54, model: "clippy-tiny", pretrained: "random", randomWeights: true, device: "cpu" });
  });

  it("reports why the collection is unusable", () => {
    const s = summarizeInfo({
      collection: "c",
      defaults: DEFAULTS,
      exists: true,
      points: 3,
      running: RUNNING,
      usable: false,
      problem: "Collection was built with ViT-L-14; set MODEL_NAME",
    });
    expect(s.problem).toBe("Collection was built with ViT-L-14; set MODEL_NAME");
    expect(summarizeInfo({ collection: "c", defaults: DEFAULTS, exists: true, points: 3, running: RUNNING, usable: false }).problem).toBe(
      "The service cannot search this collection.",
    );
  });

  it("copes with a collection that does not exist yet", () => {
    expect(summarizeInfo({ collection: "c", defaults: DEFAULTS, exists: false, points: 0, running: RUNNING, usable: true })).toMatchObject({
      points: 0,
      model: "clippy-tiny",
      details: "Collection “c” · device cpu",
      problem: null,
    });
  });
});

describe("the folder scan line", () => {
  const base = { collection: "c", defaults: DEFAULTS, exists: true, points: 3, running: RUNNING, usable: true };
  it("shows progress while AUTO_INGEST scans the image folder", () => {
    const s = summarizeInfo({ ...base, autoIngest: { status: "scanning", found: 1200, done: 300, failed: 0 } });
    expect(s.scan).toBe(`Adding the image folder: 300 / ${(1200).toLocaleString()}`);
  });
  it("says why a scan failed, and nothing once it is done or without one", () => {
    expect(summarizeInfo({ ...base, autoIngest: { status: "failed", found: 0, done: 0, failed: 0, error: "disk gone" } }).scan).toBe(
      "The image folder scan failed: disk gone",
    );
    expect(summarizeInfo({ ...base, autoIngest: { status: "done", found: 4, done: 4, failed: 0 } }).scan).toBeNull();
    expect(summarizeInfo(base).scan).toBeNull();
  });
});
