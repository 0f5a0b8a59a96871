import { BookOpen, Clapperboard } from "lucide-react";
import { useEffect, useId, useRef, useState } from "react";
import { api } from "@/api/client";
import type { InfoResponse, Story, StoryboardRequest, StoryboardResult, StoryFrame, StoryHit, StoryRequest, StoryResult } from "@/api/schema";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { useJobRunner } from "@/hooks/useJobs";
import { ProviderUnavailable } from "@/components/ProviderUnavailable";
import { isTerminal } from "@/state/jobs";
import { providerGate } from "@/state/providers";
import {
  clampFrames,
  DEFAULT_FRAME_SIDE,
  DEFAULT_FRAMES,
  FRAME_SIDES,
  frameSlots,
  fromDraft,
  hasText,
  MAX_FRAMES,
  MAX_PROMPT_CHARS,
  storyboardRequest,
  storyRequest,
  toDraft,
  type StoryDraft,
  type StorySource,
} from "@/state/story";
import { StoryboardFrames } from "./StoryboardFrames";
import { StoryEditor } from "./StoryEditor";
import { StoryJobLine } from "./StoryJobLine";
import { StorySearch } from "./StorySearch";
import { StorySourcePicker } from "./StorySourcePicker";

export interface StoryPanelProps {
  source: StorySource | null;
  onSource: (source: StorySource | null) => void;
  /** Bumped to ask for a story about `source` at once ("Make a story" in the lightbox). */
  ask?: number;
  onEditFrame: (frame: StoryFrame) => void;
  onUseFrameAsRef: (frame: StoryFrame) => void;
  onOpenImage: (url: string) => void;
  /** GET /info: whether the story provider and the image provider can run here. */
  info?: InfoResponse | null;
}

/** The story shown: which job or past story it came from (edits belong to it), and the story. */
interface Shown {
  key: string;
  story: Story;
}

/** Picture → story (editable) → storyboard, and past stories. */
export function StoryPanel({ source, onSource, ask = 0, onEditFrame, onUseFrameAsRef, onOpenImage, info = null }: StoryPanelProps) {
  const id = useId();
  // Stories need the story provider; storyboards the image provider a request without one gets.
  const storyGate = providerGate(info, "story");
  const boardGate = providerGate(info, "");
  const stories = useJobRunner<StoryRequest, StoryResult>(api.createStory);
  const boards = useJobRunner<StoryboardRequest, StoryboardResult, number>(api.createStoryboard);
  const [direction, setDirection] = useState("");
  const [picked, setPicked] = useState<Shown | null>(null);
  const [edits, setEdits] = useState<{ key: string; draft: StoryDraft } | null>(null);
  // As typed (a number field may be empty mid-edit); clamped when the storyboard is asked for.
  const [frames, setFrames] = useState(String(DEFAULT_FRAMES));
  const [side, setSide] = useState(DEFAULT_FRAME_SIDE);

  const storyEntry = stories.entries[0] ?? null;
  const told = storyEntry?.job?.status === "succeeded" && storyEntry.job.result ? { key: storyEntry.key, story: storyEntry.job.result.story } : null;
  // A past story picked after the last job is shown until the next story is asked for.
  const shown = picked ?? told;
  const draft = shown ? (edits?.key === shown.key ? edits.draft : toDraft(shown.story)) : null;
  const story = draft ? fromDraft(draft) : null;
  const boardEntry = boards.entries[0] ?? null;
  // One storyboard at a time: the next waits until this one is done, failed or cancelled.
  const boarding = boardEntry !== null && (boardEntry.job ? !isTerminal(boardEntry.job.status) : !boardEntry.error);

  const tell = () => {
    if (!source) return;
    setPicked(null);
    void stories.submit(storyRequest(source, direction));
  };
  // Each bump of `ask` tells one story; a changed source or direction alone does not.
  const asked = useRef(ask);
  const submitStory = stories.submit;
  useEffect(() => {
    if (ask === asked.current || !source) return;
    asked.current = ask;
    if (!storyGate.available) return; // the reason shows under the button
    setPicked(null);
    void submitStory(storyRequest(source, direction));
  }, [ask, source, direction, submitStory, storyGate.available]);
  const pick = (hit: StoryHit) => setPicked({ key: `story:${hit.id}`, story: hit.story });
  const board = () => {
    if (!story) return;
    const req = storyboardRequest(story, Number(frames), side);
    void boards.submit(req, req.frames);
  };

  return (
    <div className="flex flex-col gap-3">
      <StorySourcePicker source={source} onSource={onSource} />
      <div className="flex flex-col gap-1">
        <Label htmlFor={`${id}-direction`}>How to tell it (optional)</Label>
        <Input id={`${id}-direction`} value={direction} maxLength={MAX_PROMPT_CHARS} placeholder="a bedtime story, three paragraphs" onChange={(e) => setDirection(e.target.value)} />
      </div>
      <Button onClick={tell} disabled={!source || !storyGate.available}>
        <BookOpen /> Make a story
      </Button>
      <ProviderUnavailable gate={storyGate} />
      {storyEntry && picked === null && <StoryJobLine entry={storyEntry} what="story" onCancel={(k, jobId) => void stories.cancel(k, jobId)} />}

      {shown && draft && story && (
        <>
          <StoryEditor draft={draft} onChange={(d) => setEdits({ key: shown.key, draft: d })} />
          <div className="grid grid-cols-2 gap-2">
            <div className="flex min-w-0 flex-col gap-1">
              <Label htmlFor={`${id}-frames`}>Frames</Label>
              <Input
                id={`${id}-frames`}
                type="number"
                min={1}
                max={MAX_FRAMES}
                value={frames}
                className="h-9"
                onChange={(e) => setFrames(e.target.value)}
              />
            </div>
            <div className="flex min-w-0 flex-col gap-1">
              <Label htmlFor={`${id}-side`}>Frame size</Label>
              <select id={`${id}-side`} value={side} onChange={(e) => setSide(Number(e.target.value))} className="h-9 min-w-0 rounded-md border border-input bg-background px-2 text-sm">
                {FRAME_SIDES.map((s) => (
                  <option key={s} value={s}>
                    {s} × {s}
                  </option>
                ))}
              </select>
            </div>
            <Button className="col-span-2" onClick={board} disabled={!hasText(story) || boarding || !boardGate.available}>
              <Clapperboard /> Make a storyboard
            </Button>
            <div className="col-span-2">
              <ProviderUnavailable gate={boardGate} />
            </div>
          </div>
        </>
      )}

      {boardEntry && (
        <>
          <StoryJobLine entry={boardEntry} what="storyboard" onCancel={(k, jobId) => void boards.cancel(k, jobId)} />
          <StoryboardFrames slots={frameSlots(boardEntry.job, boardEntry.meta ?? clampFrames(Number(frames)))} onEdit={onEditFrame} onUseAsRef={onUseFrameAsRef} onOpenImage={onOpenImage} />
        </>
      )}

      <StorySearch onPick={pick} />
    </div>
  );
}
