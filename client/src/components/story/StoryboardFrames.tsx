import { ImagePlus, Loader2, PenTool } from "lucide-react";
import type { StoryFrame } from "@/api/schema";
import { AuthImage } from "@/components/AuthImage";
import { Button } from "@/components/ui/button";
import { informedBy, type FrameSlot } from "@/state/story";

export interface StoryboardFramesProps {
  slots: FrameSlot[];
  onEdit: (frame: StoryFrame) => void;
  onUseAsRef: (frame: StoryFrame) => void;
  onOpenImage: (url: string) => void;
}

const PENDING: Record<Exclude<FrameSlot["state"], "done">, string> = {
  made: "Made — shown when the server hands it over",
  working: "Drawing…",
  waiting: "Waiting",
};

/** The storyboard's frames in order: each with its beat, what informed it, and what to do with it. */
export function StoryboardFrames({ slots, onEdit, onUseAsRef, onOpenImage }: StoryboardFramesProps) {
  const frames = slots.flatMap((s) => (s.state === "done" ? [s.frame] : []));
  return (
    <ol className="flex flex-col gap-2" aria-label="Storyboard frames">
      {slots.map((slot) =>
        slot.state === "done" ? (
          <FrameCard key={slot.index} frame={slot.frame} frames={frames} onEdit={onEdit} onUseAsRef={onUseAsRef} onOpenImage={onOpenImage} />
        ) : (
          <li key={slot.index} className="flex items-center gap-2 rounded-md border border-dashed p-2 text-xs text-muted-foreground" data-testid="frame-pending" data-state={slot.state}>
            {slot.state === "working" && <Loader2 className="size-4 animate-spin" aria-hidden />}
            Frame {slot.index + 1}: {PENDING[slot.state]}
          </li>
        ),
      )}
    </ol>
  );
}

function FrameCard({ frame, frames, onEdit, onUseAsRef, onOpenImage }: { frame: StoryFrame; frames: StoryFrame[] } & Omit<StoryboardFramesProps, "slots">) {
  const sources = informedBy(frame, frames);
  return (
    <li className="flex flex-col gap-1.5 rounded-md border bg-background p-2" data-testid="frame">
      <button type="button" className="rounded focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring" onClick={() => onOpenImage(frame.url)} aria-label={`Open frame ${frame.index + 1}`}>
        <AuthImage src={frame.url} alt={`Frame ${frame.index + 1}: ${frame.beat}`} className="w-full rounded border bg-muted" data-testid="frame-image" />
      </button>
      <p className="text-xs">
        <span className="font-medium">Frame {frame.index + 1}.</span> {frame.beat}
      </p>
      <div className="flex flex-wrap items-center gap-1 text-[10px] text-muted-foreground" data-testid="informed-by">
        {sources.length ? (
          <>
            Informed by
            {sources.map((s) => (
              <AuthImage key={s.key} src={s.src} alt={s.label} title={s.label} className="size-8 rounded border object-cover" data-testid="informed-by-thumb" data-role={s.ref.role} />
            ))}
          </>
        ) : (
          "No earlier picture informed this frame"
        )}
      </div>
      <div className="flex flex-wrap gap-1">
        <Button size="sm" variant="outline" className="flex-1" onClick={() => onEdit(frame)}>
          <PenTool /> Edit this image
        </Button>
        <Button size="sm" variant="outline" className="flex-1" onClick={() => onUseAsRef(frame)}>
          <ImagePlus /> Use as reference
        </Button>
      </div>
    </li>
  );
}
