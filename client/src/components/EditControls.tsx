import { X } from "lucide-react";
import { useId } from "react";
import type { EditMode } from "@/api/schema";
import { AuthImage } from "@/components/AuthImage";
import { Button } from "@/components/ui/button";
import { Label } from "@/components/ui/label";
import { Slider } from "@/components/ui/slider";
import { baseSrc, EDIT_MODES, IDENTITY_STRENGTH, sentStrength, type EditState } from "@/state/edit";

export interface EditControlsProps {
  edit: EditState;
  onChange: (edit: EditState) => void;
  onLeave: () => void;
}

const SELECT =
  "h-8 w-full min-w-0 rounded-md border border-input bg-background px-2 text-sm focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring disabled:opacity-50";

/** The edit's settings in the Generate panel: what is edited, how far (strength) and how (mode). */
export function EditControls({ edit, onChange, onLeave }: EditControlsProps) {
  const ids = { strength: useId(), hint: useId(), mode: useId() };
  const [lo, hi] = IDENTITY_STRENGTH;
  const sent = sentStrength(edit);
  // Unmoved with a mask, the server's inpainting default applies: it repaints the masked area fully.
  const shown = sent ?? 1;
  const keepsIdentity = shown >= lo && shown <= hi;
  return (
    <div className="flex flex-col gap-3 rounded-md border border-indigo-200 bg-indigo-50/50 p-2" data-testid="edit-controls" data-mask={edit.mask ? "painted" : "none"}>
      <div className="flex items-center gap-2">
        <AuthImage src={baseSrc(edit.base)} alt={`Base image: ${edit.base.label}`} className="size-12 shrink-0 rounded border object-cover" />
        <div className="min-w-0 flex-1 text-xs">
          <p className="truncate font-medium">Editing {edit.base.label}</p>
          <p className="text-muted-foreground" aria-live="polite">
            {edit.mask ? "Mask painted: only the painted area changes." : "No mask: the whole image is reworked (img2img)."}
          </p>
        </div>
        <Button size="icon-sm" variant="ghost" aria-label="Leave edit mode" onClick={onLeave}>
          <X />
        </Button>
      </div>
      <div className="flex flex-col gap-1.5">
        <div className="flex items-center justify-between">
          <Label htmlFor={ids.strength}>Strength</Label>
          <span className="flex items-center gap-1 text-xs tabular-nums text-muted-foreground" data-testid="strength-value">
            {sent === undefined ? "default (repaints the mask)" : sent.toFixed(2)}
            {edit.strength !== null && (
              <button type="button" className="cursor-pointer underline-offset-2 hover:underline" onClick={() => onChange({ ...edit, strength: null })}>
                reset
              </button>
            )}
          </span>
        </div>
        <Slider
          id={ids.strength}
          aria-label="Strength"
          aria-describedby={ids.hint}
          min={0}
          max={1}
          step={0.05}
          value={[shown]}
          onValueChange={(v) => onChange({ ...edit, strength: v[0] ?? shown })}
        />
        <p id={ids.hint} className="text-[11px] text-muted-foreground">
          How far to move from the base. {lo}–{hi} keeps a subject's identity{keepsIdentity || edit.mask ? "" : "; this setting changes more"}.
          {edit.mask && " With a mask only the painted area changes, so a high strength is safe there."}
        </p>
      </div>
      <div className="flex flex-col gap-1.5">
        <Label htmlFor={ids.mode}>Edit mode</Label>
        <select
          id={ids.mode}
          value={edit.mode}
          disabled={!edit.mask}
          onChange={(e) => onChange({ ...edit, mode: e.target.value as EditMode })}
          className={SELECT}
        >
          {EDIT_MODES.map((m) => (
            <option key={m.value} value={m.value}>
              {m.label}
            </option>
          ))}
        </select>
        {!edit.mask && <p className="text-[11px] text-muted-foreground">Paint a mask on the canvas to choose how it is filled.</p>}
      </div>
    </div>
  );
}
