import { useId } from "react";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import type { StoryDraft } from "@/state/story";
import { MAX_SETTING_CHARS, MAX_TITLE_CHARS } from "@/state/story";

export interface StoryEditorProps {
  draft: StoryDraft;
  onChange: (draft: StoryDraft) => void;
}

/** The story as editable text: title, paragraphs (blank lines between), subjects, setting. */
export function StoryEditor({ draft, onChange }: StoryEditorProps) {
  const id = useId();
  const set = (patch: Partial<StoryDraft>) => onChange({ ...draft, ...patch });
  return (
    <div className="flex flex-col gap-2" data-testid="story">
      <div className="flex flex-col gap-1">
        <Label htmlFor={`${id}-title`}>Title</Label>
        <Input id={`${id}-title`} value={draft.title} maxLength={MAX_TITLE_CHARS} onChange={(e) => set({ title: e.target.value })} />
      </div>
      <div className="flex flex-col gap-1">
        <Label htmlFor={`${id}-body`}>Story</Label>
        <textarea
          id={`${id}-body`}
          value={draft.body}
          rows={8}
          aria-describedby={`${id}-body-hint`}
          className="w-full rounded-md border border-input bg-background px-3 py-2 text-sm shadow-xs focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring"
          onChange={(e) => set({ body: e.target.value })}
        />
        <span id={`${id}-body-hint`} className="text-[10px] text-muted-foreground">
          A blank line starts a new paragraph.
        </span>
      </div>
      <div className="flex flex-col gap-1">
        <Label htmlFor={`${id}-subjects`}>Subjects</Label>
        <Input id={`${id}-subjects`} value={draft.subjects} placeholder="fox, lantern" onChange={(e) => set({ subjects: e.target.value })} />
      </div>
      <div className="flex flex-col gap-1">
        <Label htmlFor={`${id}-setting`}>Setting</Label>
        <Input id={`${id}-setting`} value={draft.setting} maxLength={MAX_SETTING_CHARS} onChange={(e) => set({ setting: e.target.value })} />
      </div>
    </div>
  );
}
