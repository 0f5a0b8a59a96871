import { ThumbsDown, ThumbsUp, X } from "lucide-react";
import { useId, useState } from "react";
import { AuthImage } from "@/components/AuthImage";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { Slider } from "@/components/ui/slider";
import { Switch } from "@/components/ui/switch";
import { Tooltip } from "@/components/ui/tooltip";
import { cn } from "@/lib/utils";
import {
  clampWeight,
  matchPreset,
  parseTags,
  PRESET_ORDER,
  PRESETS,
  type Presets,
  WEIGHT_KEYS,
  WEIGHT_LABELS,
  WEIGHT_MAX,
  WEIGHT_NEEDS,
  type QueryState,
  type WeightKey,
} from "@/state/query";

export const VIEW_COLOR: Record<WeightKey, string> = {
  wImg: "bg-view-image",
  wEdge: "bg-view-edge",
  wShape: "bg-view-shape",
  wTxt: "bg-view-text",
  wTags: "bg-view-tags",
};

export interface QueryPanelProps {
  query: QueryState;
  onChange: (q: QueryState) => void;
  /** Views that have an input right now; the others are greyed (their weight is not sent). */
  active: Record<WeightKey, boolean>;
  /** The presets (the server's defaults per query kind, `presetsFromInfo`); built-in ones otherwise. */
  presets?: Presets;
}

export function QueryPanel({ query, onChange, active, presets = PRESETS }: QueryPanelProps) {
  const preset = matchPreset(query.weights, presets);
  const setWeight = (k: WeightKey, v: number) => onChange({ ...query, weights: { ...query.weights, [k]: clampWeight(v) } });

  return (
    <div className="flex flex-col gap-5">
      <section aria-labelledby="weights-h" className="flex flex-col gap-3">
        <h2 id="weights-h" className="text-xs font-semibold uppercase tracking-wide text-muted-foreground">
          View weights
        </h2>
        <div role="group" aria-label="Weight presets" className="grid grid-cols-3 gap-1 rounded-lg bg-muted p-1">
          {PRESET_ORDER.map((p) => (
            <button
              key={p}
              type="button"
              aria-pressed={preset === p}
              onClick={() => onChange({ ...query, weights: { ...presets[p].weights } })}
              className={cn(
                "cursor-pointer rounded-md px-2 py-1 text-xs font-medium text-muted-foreground transition-colors focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring",
                preset === p && "bg-background text-foreground shadow-sm",
              )}
            >
              {presets[p].label}
            </button>
          ))}
        </div>
        {WEIGHT_KEYS.map((k) => (
          <WeightSlider key={k} k={k} value={query.weights[k]} active={active[k]} onChange={(v) => setWeight(k, v)} />
        ))}
      </section>

      <section aria-labelledby="filters-h" className="flex flex-col gap-3">
        <h2 id="filters-h" className="text-xs font-semibold uppercase tracking-wide text-muted-foreground">
          Filters
        </h2>
        <TagFilter
          label="Must have tags"
          placeholder="cat, line art"
          tags={query.tagsInclude}
          onChange={(tags) => onChange({ ...query, tagsInclude: tags })}
          variant="success"
        />
        <TagFilter
          label="Exclude tags"
          placeholder="photo, text"
          tags={query.tagsExclude}
          onChange={(tags) => onChange({ ...query, tagsExclude: tags })}
          variant="destructive"
        />
        <div className="flex items-center justify-between gap-2">
          <Label htmlFor="rerank" className="flex flex-col items-start gap-1">
            Exact re-rank
            <span className="font-normal text-muted-foreground">Rescore candidates by true weighted cosine</span>
          </Label>
          <Switch id="rerank" checked={query.rerank} onCheckedChange={(v) => onChange({ ...query, rerank: v })} />
        </div>
      </section>

      {(query.positiveIds.length > 0 || query.negativeIds.length > 0) && (
        <section aria-labelledby="examples-h" className="flex flex-col gap-2">
          <div className="flex items-center justify-between">
            <h2 id="examples-h" className="text-xs font-semibold uppercase tracking-wide text-muted-foreground">
              Examples
            </h2>
            <Button size="sm" variant="ghost" onClick={() => onChange({ ...query, positiveIds: [], negativeIds: [] })}>
              Clear
            </Button>
          </div>
          <ExampleList ids={query.positiveIds} kind="positive" onRemove={(id) => onChange({ ...query, positiveIds: query.positiveIds.filter((x) => x !== id) })} />
          <ExampleList ids={query.negativeIds} kind="negative" onRemove={(id) => onChange({ ...query, negativeIds: query.negativeIds.filter((x) => x !== id) })} />
        </section>
      )}
    </div>
  );
}

function WeightSlider({ k, value, active, onChange }: { k: WeightKey; value: number; active: boolean; onChange: (v: number) => void }) {
  const id = useId();
  const { label, hint } = WEIGHT_LABELS[k];
  return (
    <div className="flex flex-col gap-1.5" data-testid={`weight-${k}`}>
      <div className="flex items-center justify-between">
        <Tooltip content={active ? hint : `${hint} — no input for this view yet, so it is not sent`} side="left">
          <Label htmlFor={id} className="flex cursor-help items-center gap-1.5">
            <span className={cn("size-2 rounded-full", VIEW_COLOR[k])} aria-hidden />
            {label}
            <code className="font-mono text-[10px] font-normal text-muted-foreground">{k}</code>
          </Label>
        </Tooltip>
        <span className="text-xs tabular-nums text-muted-foreground">{value.toFixed(2)}</span>
      </div>
      {/* A view without input is not sent, so its slider would move and change nothing: disabled, with what it needs. */}
      <Slider
        id={id}
        aria-label={`${label} weight (${k})`}
        aria-describedby={active ? undefined : `${id}-needs`}
        disabled={!active}
        min={0}
        max={WEIGHT_MAX}
        step={0.05}
        value={[value]}
        onValueChange={(v) => onChange(v[0] ?? 0)}
      />
      {!active && (
        <p id={`${id}-needs`} className="text-[11px] text-muted-foreground">
          {WEIGHT_NEEDS[k]}
        </p>
      )}
    </div>
  );
}

function TagFilter({
  label,
  placeholder,
  tags,
  onChange,
  variant,
}: {
  label: string;
  placeholder: string;
  tags: string[];
  onChange: (tags: string[]) => void;
  variant: "success" | "destructive";
}) {
  const id = useId();
  const [draft, setDraft] = useState("");
  const commit = () => {
    const add = parseTags(draft).filter((t) => !tags.includes(t));
    if (add.length) onChange([...tags, ...add]);
    setDraft("");
  };
  return (
    <div className="flex flex-col gap-1.5">
      <Label htmlFor={id}>{label}</Label>
      <Input
        id={id}
        value={draft}
        placeholder={placeholder}
        onChange={(e) => setDraft(e.target.value)}
        onBlur={commit}
        onKeyDown={(e) => {
          if (e.key === "Enter" || e.key === ",") {
            e.preventDefault();
            commit();
          } else if (e.key === "Backspace" && draft === "" && tags.length) onChange(tags.slice(0, -1));
        }}
        className="h-8"
      />
      {tags.length > 0 && (
        <ul className="flex flex-wrap gap-1" aria-label={label}>
          {tags.map((t) => (
            <li key={t}>
              <Badge variant={variant} className="pr-0.5">
                {t}
                <button type="button" className="cursor-pointer rounded p-0.5 hover:bg-black/10" aria-label={`Remove tag ${t}`} onClick={() => onChange(tags.filter((x) => x !== t))}>
                  <X className="size-3" />
                </button>
              </Badge>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function ExampleList({ ids, kind, onRemove }: { ids: string[]; kind: "positive" | "negative"; onRemove: (id: string) => void }) {
  if (ids.length === 0) return null;
  const Icon = kind === "positive" ? ThumbsUp : ThumbsDown;
  const label = kind === "positive" ? "More like" : "Not like";
  return (
    <ul className="flex flex-wrap items-center gap-1.5" aria-label={`${label} these`}>
      <li className="flex items-center gap-1 text-xs text-muted-foreground">
        <Icon className={cn("size-3.5", kind === "positive" ? "text-emerald-600" : "text-red-600")} aria-hidden />
        {label}
      </li>
      {ids.map((id) => (
        <li key={id} className="relative">
          <AuthImage src={`/thumb/${encodeURIComponent(id)}`} alt="" className={cn("size-10 rounded border object-cover", kind === "negative" && "grayscale")} />
          <button
            type="button"
            className="absolute -right-1 -top-1 cursor-pointer rounded-full border bg-background p-0.5 shadow"
            aria-label={`Remove ${kind} example ${id}`}
            onClick={() => onRemove(id)}
          >
            <X className="size-3" />
          </button>
        </li>
      ))}
    </ul>
  );
}
