import { describe, expect, it } from "vitest";
import { summarizeInfo } from "./info";

describe("summarizeInfo", () => {
  it("reads the contract's shape", () => {
    const s = summarizeInfo({
      collection: "clippy",
      points: 48,
      model: { name: "ViT-B-32", pretrained: "random", randomWeights: true },
      textModel: "clip",
      vectors: { image: 512, edge: 512, text: 512, shape: 576 },
      sparse: ["tags"],
      edgeVersion: "canny-v1",
      shapeVersion: "hog-5x5-v1",
    });
    expect(s).toMatchObject({ points: 48, model: "ViT-B-32", pretrained: "random", randomWeights: true, problem: null });
    expect(s.details).toContain("edges canny-v1");
    expect(s.details).toContain("vectors image, edge, text, shape");
    expect(s.details).toContain("shape hog-5x5-v1");
  });

  it("reads the service's shape and prefers the running model", () => {
    const s = summarizeInfo({
      collection: "clippy",
      exists: true,
      points: 54,
      model: "clippy-tiny",
      pretrained: "random",
      randomWeights: true,
      running: { model: "clippy-tiny", pretrained: "random", randomWeights: true, device: "cpu" },
      usable: true,
    });
    expect(s).toMatchObject({ points: 54, model: "clippy-tiny", pretrained: "random", randomWeights: true, device: "cpu", problem: null });
  });

  it("reports why the collection is unusable", () => {
    const s = summarizeInfo({ collection: "c", points: 3, usable: false, problem: "Collection was built with ViT-L-14; set MODEL_NAME" });
    expect(s.problem).toBe("Collection was built with ViT-L-14; set MODEL_NAME");
  });

  it("copes with a collection that does not exist yet", () => {
    expect(summarizeInfo({ collection: "c", exists: false, points: 0 })).toMatchObject({ points: 0, model: null, problem: null });
  });
});
