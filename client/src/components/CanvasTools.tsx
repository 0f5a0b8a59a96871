import { Redo2, Trash2, Undo2 } from "lucide-react";
import { Button } from "@/components/ui/button";
import { Slider } from "@/components/ui/slider";
import { Tooltip } from "@/components/ui/tooltip";

/** The toolbar parts the sketch canvas and the mask editor share: one look, one behaviour. */

interface ToolButtonProps {
  label: string;
  /** The tooltip, when it says more than the label (e.g. the shortcut). */
  tip?: string;
  active: boolean;
  onClick: () => void;
  children: React.ReactNode;
}

/** A drawing tool: pressed while it is the one in use. */
export function ToolButton({ label, tip, active, onClick, children }: ToolButtonProps) {
  return (
    <Tooltip content={tip ?? label}>
      <Button size="icon-sm" variant={active ? "default" : "ghost"} aria-label={label} aria-pressed={active} onClick={onClick}>
        {children}
      </Button>
    </Tooltip>
  );
}

interface BrushSizeProps {
  label: string;
  id?: string;
  min: number;
  max: number;
  step: number;
  value: number;
  onChange: (size: number) => void;
}

/** The brush width slider with its value beside it. */
export function BrushSize({ label, id, min, max, step, value, onChange }: BrushSizeProps) {
  return (
    <div className="mx-1 flex w-28 items-center gap-2">
      <Slider id={id} aria-label={label} min={min} max={max} step={step} value={[value]} onValueChange={(v) => onChange(v[0] ?? value)} />
      <span className="w-6 text-right text-xs tabular-nums text-muted-foreground" aria-hidden>
        {value}
      </span>
    </div>
  );
}

interface HistoryLabels {
  undo: string;
  redo: string;
  clear: string;
}

interface HistoryButtonsProps {
  /** What each button is called (its accessible name). */
  labels: HistoryLabels;
  /** Their tooltips, when they say more than the labels (shortcuts). */
  tips?: Partial<HistoryLabels>;
  canUndo: boolean;
  canRedo: boolean;
  onUndo: () => void;
  onRedo: () => void;
  onClear: () => void;
}

/** Undo, redo and clear (itself undoable), at the toolbar's end. */
export function HistoryButtons({ labels, tips = {}, canUndo, canRedo, onUndo, onRedo, onClear }: HistoryButtonsProps) {
  return (
    <div className="ml-auto flex items-center gap-1">
      <Tooltip content={tips.undo ?? labels.undo}>
        <Button size="icon-sm" variant="ghost" aria-label={labels.undo} disabled={!canUndo} onClick={onUndo}>
          <Undo2 />
        </Button>
      </Tooltip>
      <Tooltip content={tips.redo ?? labels.redo}>
        <Button size="icon-sm" variant="ghost" aria-label={labels.redo} disabled={!canRedo} onClick={onRedo}>
          <Redo2 />
        </Button>
      </Tooltip>
      <Tooltip content={tips.clear ?? `${labels.clear} — undoable`}>
        <Button size="icon-sm" variant="ghost" aria-label={labels.clear} onClick={onClear}>
          <Trash2 />
        </Button>
      </Tooltip>
    </div>
  );
}
