import { describe, expect, it } from "vitest";
import type { Job, StoryboardResult, StoryFrame } from "@/api/schema";
import {
  clampFrames,
  describeStoryJob,
  frameSlots,
  fromDraft,
  hasText,
  informedBy,
  MAX_FRAMES,
  MAX_PARAGRAPHS,
  MAX_SUBJECTS,
  storyboardRequest,
  storyRequest,
  toDraft,
} from "./story";

const story = { title: "The fox", paragraphs: ["A fox walks.", "It finds a cave."], subjects: ["fox", "cave"], setting: "a forest at dusk" };

function frame(index: number, refs: StoryFrame["refs"] = [], id: string | null = `lib-${index}`): StoryFrame {
  return { index, beat: `beat ${index}`, prompt: `p${index}`, subjects: ["fox"], url: `/generated/f${index}.png`, id, seed: index, refs };
}

function job(status: Job<StoryboardResult>["status"], extra: Partial<Job<StoryboardResult>> = {}): Job<StoryboardResult> {
  return { id: "j1", kind: "storyboard", status, createdAt: "2026-12-06T00:00:00Z", updatedAt: "2026-12-06T00:00:00Z", ...extra };
}

describe("the story request", () => {
  it("sends a library image by id and an upload inline, with the direction trimmed", () => {
    expect(storyRequest({ kind: "library", id: "img-1", imageUrl: "/image/img-1", label: "x" }, "  for children ")).toEqual({ id: "img-1", prompt: "for children" });
    expect(storyRequest({ kind: "inline", image: "data:image/png;base64,AA", label: "upload" }, "   ")).toEqual({ image: "data:image/png;base64,AA" });
  });

  it("cuts a direction longer than the server takes", () => {
    const out = storyRequest({ kind: "inline", image: "data:,", label: "" }, "x".repeat(5000));
    expect(out.prompt).toHaveLength(1000);
  });
});

describe("the story as editable text", () => {
  it("round-trips a story through the draft", () => {
    expect(fromDraft(toDraft(story))).toEqual(story);
  });

  it("splits paragraphs on blank lines and drops empty ones", () => {
    const out = fromDraft({ title: " T ", body: "one\nstill one\n\n\n  \n two \n\n", subjects: "", setting: "" });
    expect(out.title).toBe("T");
    expect(out.paragraphs).toEqual(["one\nstill one", "two"]);
  });

  it("takes subjects comma-separated, without blanks or case duplicates, at most the server's count", () => {
    expect(fromDraft({ title: "", body: "", subjects: "fox, , Fox,owl ", setting: "" }).subjects).toEqual(["fox", "owl"]);
    const many = Array.from({ length: 40 }, (_, i) => `s${i}`).join(",");
    expect(fromDraft({ title: "", body: "", subjects: many, setting: "" }).subjects).toHaveLength(MAX_SUBJECTS);
    const paragraphs = Array.from({ length: 50 }, (_, i) => `p${i}`).join("\n\n");
    expect(fromDraft({ title: "", body: paragraphs, subjects: "", setting: "" }).paragraphs).toHaveLength(MAX_PARAGRAPHS);
  });

  it("has text to draw from only with a title or a paragraph", () => {
    expect(hasText(fromDraft({ title: "", body: " \n\n ", subjects: "fox", setting: "woods" }))).toBe(false);
    expect(hasText(fromDraft({ title: "", body: "A fox.", subjects: "", setting: "" }))).toBe(true);
  });
});

describe("the storyboard request", () => {
  it("sends the (edited) story fields and a frame count within bounds", () => {
    expect(storyboardRequest(story, 2)).toEqual({ story, frames: 2, width: 512, height: 512, retrieval: true });
    expect(storyboardRequest(story, 2, 256)).toMatchObject({ width: 256, height: 256 });
    // A side not offered (e.g. not a multiple of 8) falls back to the server's default.
    expect(storyboardRequest(story, 2, 300)).toMatchObject({ width: 512, height: 512 });
    expect(storyboardRequest(story, 0).frames).toBe(1);
    expect(storyboardRequest(story, 99).frames).toBe(MAX_FRAMES);
    expect(clampFrames(Number.NaN)).toBe(4);
    expect(storyboardRequest(story, 3, 512, false).retrieval).toBe(false);
  });
});

describe("frame slots while the storyboard runs", () => {
  it("are all waiting before the job is known or while it is queued", () => {
    expect(frameSlots(null, 3).map((s) => s.state)).toEqual(["waiting", "waiting", "waiting"]);
    expect(frameSlots(job("queued"), 2).map((s) => s.state)).toEqual(["waiting", "waiting"]);
  });

  it("follow the job's progress: made, the one being drawn, the rest waiting", () => {
    const slots = frameSlots(job("running", { progress: { step: 1, total: 3 } }), 3);
    expect(slots.map((s) => s.state)).toEqual(["made", "working", "waiting"]);
  });

  it("show each frame the running job has finished, with what informed it, placeholders for the rest", () => {
    const first = frame(0);
    const second = frame(1, [{ role: "subject", weight: 0.8, similarity: 0.9, tier: "storyboard", frame: 0, id: null, reason: "frame 0 introduced 'fox'" }]);
    const running = job("running", { progress: { step: 2, total: 4, partial: { frames: [first, second] } } });
    const slots = frameSlots(running, 4);
    expect(slots).toEqual([
      { index: 0, state: "done", frame: first },
      { index: 1, state: "done", frame: second },
      { index: 2, state: "working" },
      { index: 3, state: "waiting" },
    ]);
    const shown = slots.flatMap((s) => (s.state === "done" ? [s.frame] : []));
    expect(informedBy(second, shown).map((i) => i.src)).toEqual([first.url]);
    // A poll that has not caught up with the step count (or an older server) still says "made".
    expect(frameSlots(job("running", { progress: { step: 2, total: 3, partial: { frames: [first] } } }), 3).map((s) => s.state)).toEqual(["done", "made", "working"]);
    // What a failed job made stays shown.
    expect(frameSlots(job("failed", { progress: { step: 1, total: 2, partial: { frames: [first] } } }), 2).map((s) => s.state)).toEqual(["done", "waiting"]);
  });

  it("take the count from the server's progress (it may cap the frames asked for)", () => {
    expect(frameSlots(job("running", { progress: { step: 0, total: 2 } }), 5)).toHaveLength(2);
  });

  it("are the result's frames once the job succeeds", () => {
    const frames = [frame(0), frame(1)];
    const slots = frameSlots(job("succeeded", { result: { storyboardId: "b", storyId: null, story, frames, provider: "sdxl", model: "m", timings: {} } }), 5);
    expect(slots).toEqual([
      { index: 0, state: "done", frame: frames[0] },
      { index: 1, state: "done", frame: frames[1] },
    ]);
  });

  it("stop drawing when the job fails", () => {
    expect(frameSlots(job("failed", { progress: { step: 1, total: 2 } }), 2).map((s) => s.state)).toEqual(["waiting", "waiting"]);
  });
});

describe("informed by", () => {
  it("shows an earlier frame by its picture and a library image by its thumbnail", () => {
    const first = frame(0);
    const second = frame(1, [
      { role: "subject", weight: 0.9, similarity: 0.95, tier: "storyboard", frame: 0, id: null, reason: "introduced fox" },
      { role: "style", weight: 0.5, similarity: 0.4, tier: "generated", frame: null, id: "gen/1", reason: "similar generation" },
    ]);
    const out = informedBy(second, [first, second]);
    expect(out.map((o) => o.src)).toEqual(["/generated/f0.png", "/thumb/gen%2F1"]);
    expect(out[0]?.label).toMatch(/^subject ref: frame 1 .*introduced fox/);
    expect(out[1]?.label).toMatch(/an earlier generation/);
  });

  it("leaves out a reference it cannot show", () => {
    const f = frame(1, [{ role: "style", weight: 0.5, similarity: 0.4, tier: "storyboard", frame: 7, id: null, reason: "gone" }]);
    expect(informedBy(f, [f])).toEqual([]);
  });
});

describe("job status words", () => {
  it("say which frame is being drawn", () => {
    expect(describeStoryJob({ status: "running", progress: { step: 1, total: 2 } }, "storyboard")).toBe("Drawing frame 2 of 2");
    expect(describeStoryJob({ status: "failed", error: { code: "x", message: "no model" } }, "story")).toBe("Failed — no model");
  });
});
