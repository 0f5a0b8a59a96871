import { Plus, X } from "lucide-react";
import { useId, useState } from "react";
import type { SubQueryKind } from "@/api/schema";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { cn } from "@/lib/utils";
import { KINDS, MAX_CHIPS, nextKind, type Chip, type ChipsAction } from "@/state/subqueries";

export const KIND_STYLE: Record<SubQueryKind, { chip: string; dot: string; letter: string }> = {
  subject: { chip: "border-sky-300 bg-sky-50", dot: "bg-sky-500", letter: "bg-sky-500 text-white" },
  object: { chip: "border-emerald-300 bg-emerald-50", dot: "bg-emerald-500", letter: "bg-emerald-500 text-white" },
  style: { chip: "border-fuchsia-300 bg-fuchsia-50", dot: "bg-fuchsia-500", letter: "bg-fuchsia-500 text-white" },
  setting: { chip: "border-amber-300 bg-amber-50", dot: "bg-amber-500", letter: "bg-amber-500 text-white" },
};

const SELECT = "h-8 rounded-md border border-input bg-background px-1.5 text-xs focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring";

/** The parts of a prompt as chips: click the text to edit it, the letter to change its kind, × to remove. */
export function SubQueryChips({ chips, dispatch, disabled }: { chips: Chip[]; dispatch: (a: ChipsAction) => void; disabled?: boolean }) {
  const [text, setText] = useState("");
  const [kind, setKind] = useState<SubQueryKind>("subject");
  const addId = useId();
  const full = chips.length >= MAX_CHIPS;
  const add = () => {
    if (!text.trim()) return;
    dispatch({ type: "add", text, kind });
    setText("");
  };
  return (
    <div className="flex flex-col gap-2">
      <ul className="flex flex-wrap gap-1.5" aria-label="Sub-queries">
        {chips.map((c, i) => (
          <ChipItem key={c.id} chip={c} index={i + 1} dispatch={dispatch} disabled={disabled} />
        ))}
        {chips.length === 0 && <li className="text-xs text-muted-foreground">No sub-queries yet: decompose the prompt, or add parts yourself.</li>}
      </ul>
      <div className="flex gap-1">
        <label htmlFor={addId} className="sr-only">
          Add a sub-query
        </label>
        <Input
          id={addId}
          value={text}
          placeholder={full ? `At most ${MAX_CHIPS} parts` : "Add a part: a red kite"}
          disabled={disabled || full}
          className="h-8 text-xs"
          onChange={(e) => setText(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter") {
              e.preventDefault();
              add();
            }
          }}
        />
        <select aria-label="Kind of the new sub-query" value={kind} onChange={(e) => setKind(e.target.value as SubQueryKind)} className={SELECT} disabled={disabled || full}>
          {KINDS.map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
        <Button size="icon-sm" variant="outline" aria-label="Add sub-query" onClick={add} disabled={disabled || full || !text.trim()}>
          <Plus />
        </Button>
      </div>
    </div>
  );
}

function ChipItem({ chip, index, dispatch, disabled }: { chip: Chip; index: number; dispatch: (a: ChipsAction) => void; disabled?: boolean }) {
  const [draft, setDraft] = useState<string | null>(null);
  const style = KIND_STYLE[chip.kind];
  const commit = () => {
    if (draft !== null) dispatch({ type: "edit", id: chip.id, text: draft });
    setDraft(null);
  };
  return (
    <li
      data-testid="subquery-chip"
      data-kind={chip.kind}
      data-id={chip.id}
      className={cn("flex max-w-full items-center gap-1 rounded-full border py-0.5 pl-0.5 pr-1 text-xs", style.chip)}
    >
      <button
        type="button"
        disabled={disabled}
        className={cn("inline-flex h-5 min-w-5 cursor-pointer items-center justify-center rounded-full px-1 text-[10px] font-semibold focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring", style.letter)}
        title={`${chip.kind} — click for ${nextKind(chip.kind)}`}
        aria-label={`Kind of “${chip.text}”: ${chip.kind}. Change to ${nextKind(chip.kind)}`}
        onClick={() => dispatch({ type: "cycleKind", id: chip.id })}
      >
        {index} · {chip.kind}
      </button>
      {draft === null ? (
        <button
          type="button"
          disabled={disabled}
          className="min-w-0 cursor-text truncate rounded px-0.5 text-left focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring"
          aria-label={`Edit sub-query “${chip.text}”`}
          onClick={() => setDraft(chip.text)}
        >
          {chip.text}
        </button>
      ) : (
        <input
          autoFocus
          aria-label={`Sub-query ${index} text`}
          value={draft}
          size={Math.max(4, draft.length)}
          className="min-w-0 rounded border border-input bg-background px-1 text-xs focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring"
          onChange={(e) => setDraft(e.target.value)}
          onBlur={commit}
          onKeyDown={(e) => {
            if (e.key === "Enter") {
              e.preventDefault();
              commit();
            } else if (e.key === "Escape") {
              e.preventDefault();
              e.stopPropagation();
              setDraft(null);
            }
          }}
        />
      )}
      <button
        type="button"
        disabled={disabled}
        className="cursor-pointer rounded-full p-0.5 text-muted-foreground hover:bg-black/10 hover:text-foreground focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring"
        aria-label={`Remove sub-query “${chip.text}”`}
        onClick={() => dispatch({ type: "remove", id: chip.id })}
      >
        <X className="size-3" />
      </button>
    </li>
  );
}
