/**
 * The Story tab: a picture → a story (POST /stories), the story as editable text, the story →
 * a storyboard (POST /storyboards), and each frame's attribution. Pure; the components hold it.
 */
import type { FrameRef, Job, JobView, Story, StoryboardRequest, StoryboardResult, StoryFrame, StoryRequest } from "@/api/schema";
import type { EditBase } from "@/state/edit";

/** The picture a story is told about: a library image goes by id, anything else inline. */
export type StorySource = EditBase;

// The server's bounds on a Story (app/stories/models.py); a draft beyond them is cut, not refused.
export const MAX_TITLE_CHARS = 200;
export const MAX_PARAGRAPHS = 32;
export const MAX_PARAGRAPH_CHARS = 4000;
export const MAX_SUBJECTS = 16;
export const MAX_SETTING_CHARS = 500;
export const MAX_PROMPT_CHARS = 1000;
/** Frames asked for unless changed; the server's own cap is STORYBOARD_MAX_FRAMES. */
export const DEFAULT_FRAMES = 4;
export const MAX_FRAMES = 12;
/** Square frame sides offered (1:1 suits every provider); SDXL needs multiples of 8. */
export const FRAME_SIDES: readonly number[] = [256, 512, 768, 1024];
/** The server's default side. */
export const DEFAULT_FRAME_SIDE = 512;

export function storyRequest(source: StorySource, prompt: string): StoryRequest {
  const direction = prompt.trim().slice(0, MAX_PROMPT_CHARS);
  const image = source.kind === "library" ? { id: source.id } : { image: source.image };
  return direction ? { ...image, prompt: direction } : image;
}

/** A story as the form edits it: paragraphs as one text (blank lines between), subjects comma-separated. */
export interface StoryDraft {
  title: string;
  body: string;
  subjects: string;
  setting: string;
}

export function toDraft(story: Story): StoryDraft {
  return {
    title: story.title ?? "",
    body: (story.paragraphs ?? []).join("\n\n"),
    subjects: (story.subjects ?? []).join(", "),
    setting: story.setting ?? "",
  };
}

export function fromDraft(draft: StoryDraft): Story {
  const paragraphs = draft.body
    .split(/\n\s*\n/)
    .map((p) => p.trim().slice(0, MAX_PARAGRAPH_CHARS))
    .filter(Boolean)
    .slice(0, MAX_PARAGRAPHS);
  const seen = new Set<string>();
  const subjects: string[] = [];
  for (const raw of draft.subjects.split(",")) {
    const s = raw.trim();
    if (s && !seen.has(s.toLowerCase()) && subjects.length < MAX_SUBJECTS) {
      seen.add(s.toLowerCase());
      subjects.push(s);
    }
  }
  return { title: draft.title.trim().slice(0, MAX_TITLE_CHARS), paragraphs, subjects, setting: draft.setting.trim().slice(0, MAX_SETTING_CHARS) };
}

/** Something to draw frames from: a title or a paragraph. */
export function hasText(story: Story): boolean {
  return Boolean(story.title?.trim()) || (story.paragraphs ?? []).some((p) => p.trim());
}

export function clampFrames(n: number, max = MAX_FRAMES): number {
  if (!Number.isFinite(n)) return DEFAULT_FRAMES;
  return Math.min(max, Math.max(1, Math.round(n)));
}

/**
 * The storyboard request. The story goes as fields (what the person sees, edits included);
 * `storyId` is not sent with them: the server takes one or the other, and the edits win.
 */
export function storyboardRequest(story: Story, frames: number, side = DEFAULT_FRAME_SIDE, retrieval = true): StoryboardRequest {
  const s = FRAME_SIDES.includes(side) ? side : DEFAULT_FRAME_SIDE;
  return { story, frames: clampFrames(frames), width: s, height: s, retrieval };
}

/** One place in the storyboard: a finished frame, or where one is still to come. */
export type FrameSlot =
  | { index: number; state: "done"; frame: StoryFrame }
  /** Made on the server but not handed over yet (a server whose progress carries no frames). */
  | { index: number; state: "made" }
  | { index: number; state: "working" }
  | { index: number; state: "waiting" };

/**
 * The storyboard's frames as they stand. A running job's progress carries the frames made so
 * far (`progress.partial.frames`), so each shows as soon as a poll returns it, with what
 * informed it; the result gives them all once the job succeeds. Frames a failed or cancelled
 * job made stay shown (they exist, and are in the library). The rest are placeholders: the one
 * being drawn, and those waiting.
 */
export function frameSlots(job: Job<StoryboardResult> | null, requested: number): FrameSlot[] {
  const frames = job?.status === "succeeded" ? (job.result?.frames ?? []) : null;
  if (frames) return frames.map((frame) => ({ index: frame.index, state: "done", frame }));
  const total = job?.progress && job.progress.total > 0 ? job.progress.total : clampFrames(requested, Number.MAX_SAFE_INTEGER);
  const running = job?.status === "running";
  const made = running && job.progress ? Math.min(total, Math.max(0, job.progress.step)) : 0;
  const finished = new Map((job?.progress?.partial?.frames ?? []).filter((f) => f.index >= 0 && f.index < total).map((f) => [f.index, f]));
  return Array.from({ length: total }, (_, index): FrameSlot => {
    const frame = finished.get(index);
    if (frame) return { index, state: "done", frame };
    if (index < made) return { index, state: "made" };
    if (index === made && running) return { index, state: "working" };
    return { index, state: "waiting" };
  });
}

/** A thumbnail of what informed a frame, with why. */
export interface InformedBy {
  key: string;
  src: string;
  label: string;
  ref: FrameRef;
}

/**
 * A frame's attribution as pictures: an earlier frame of this storyboard shows that frame,
 * a library image (an earlier generation or a library picture) its thumbnail.
 */
export function informedBy(frame: StoryFrame, frames: readonly StoryFrame[]): InformedBy[] {
  const byIndex = new Map(frames.map((f) => [f.index, f]));
  const out: InformedBy[] = [];
  frame.refs.forEach((ref, i) => {
    const earlier = ref.frame !== null && ref.frame !== undefined ? byIndex.get(ref.frame) : undefined;
    const src = earlier ? earlier.url : ref.id ? `/thumb/${encodeURIComponent(ref.id)}` : null;
    if (!src) return;
    const what = earlier ? `frame ${earlier.index + 1}` : ref.tier === "generated" ? "an earlier generation" : "a library image";
    out.push({ key: `${i}:${src}`, src, label: `${ref.role} ref: ${what} (similarity ${ref.similarity.toFixed(2)}, weight ${ref.weight.toFixed(2)}) — ${ref.reason}`, ref });
  });
  return out;
}

export function describeStoryJob(job: Pick<JobView, "status" | "progress" | "error">, what: "story" | "storyboard"): string {
  switch (job.status) {
    case "queued":
      return `Queued — waiting for a worker to take the ${what}`;
    case "running":
      return job.progress && job.progress.total > 0
        ? what === "storyboard"
          ? `Drawing frame ${Math.min(job.progress.step + 1, job.progress.total)} of ${job.progress.total}`
          : `Running — step ${job.progress.step} of ${job.progress.total}`
        : what === "story"
          ? "Telling the story…"
          : "Running…";
    case "succeeded":
      return what === "story" ? "Story ready — edit it, then make a storyboard" : "Storyboard ready";
    case "failed":
      return `Failed — ${job.error?.message ?? "the server gave no reason"}`;
    case "cancelled":
      return "Cancelled";
  }
}
