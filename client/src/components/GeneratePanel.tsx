import { AlertTriangle, Download, ImagePlus, Layers, Loader2, PenTool, Search, Sparkles, X } from "lucide-react";
import { useEffect, useId, useRef, useState } from "react";
import type { GenerateRequest, InfoResponse, Provider, RefRole } from "@/api/schema";
import { AuthImage } from "@/components/AuthImage";
import { EditControls } from "@/components/EditControls";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { Slider } from "@/components/ui/slider";
import type { JobEntry } from "@/hooks/useJobs";
import { cn } from "@/lib/utils";
import { applyEdit, type EditState } from "@/state/edit";
import { describeError } from "@/state/errors";
import { describeJob, isTerminal, progressFraction } from "@/state/jobs";
import { jobFailure, providerGate } from "@/state/providers";
import { ProviderUnavailable } from "./ProviderUnavailable";
import { MAX_REFS, REF_ROLES, toGenerateRefs, type RefItem, type RefsAction } from "@/state/refs";

export interface GeneratePanelProps {
  refs: RefItem[];
  dispatchRefs: (a: RefsAction) => void;
  sketch: string | null;
  exampleImage: string | null;
  defaultPrompt: string;
  jobs: JobEntry[];
  onSubmit: (req: GenerateRequest) => void;
  onCancel: (key: string, id: string) => void;
  onDismiss: (key: string) => void;
  onUseAsQuery: (url: string) => void;
  onUseAsUnderlay: (url: string) => void;
  onUseAsRef: (url: string) => void;
  /** "Edit this image": the image being edited (the base under the mask), or null. */
  edit: EditState | null;
  onEditChange: (edit: EditState) => void;
  onLeaveEdit: () => void;
  onEditImage: (url: string) => void;
  /** GET /info: which providers can run here (Generate is disabled, with the reason, when not). */
  info?: InfoResponse | null;
}

interface SizeOption {
  value: string;
  label: string;
}

const DEFAULT_SIZE: SizeOption = { value: "1024x1024", label: "1024 × 1024" };
const SQUARES: SizeOption[] = [
  DEFAULT_SIZE,
  { value: "768x768", label: "768 × 768" },
  { value: "512x512", label: "512 × 512" },
  { value: "256x256", label: "256 × 256 (tests)" },
];
// Imagen and Gemini take only these aspect ratios (the server answers 422 otherwise, see
// app/generation/README.md); the size picks the ratio. 4:3 and 16:9 suit every provider.
const COMMON: SizeOption[] = [
  { value: "1024x768", label: "1024 × 768 (4:3)" },
  { value: "768x1024", label: "768 × 1024 (3:4)" },
  { value: "1280x720", label: "1280 × 720 (16:9)" },
  { value: "720x1280", label: "720 × 1280 (9:16)" },
];

// Every list starts with DEFAULT_SIZE, the size a provider change falls back to.
const SIZES: Record<"" | Provider, SizeOption[]> = {
  "": [...SQUARES, ...COMMON],
  sdxl: [
    DEFAULT_SIZE,
    { value: "1216x832", label: "1216 × 832 (landscape)" },
    { value: "832x1216", label: "832 × 1216 (portrait)" },
    ...SQUARES.slice(1),
    ...COMMON,
  ],
  imagen: [...SQUARES, ...COMMON],
  gemini: [
    ...SQUARES,
    ...COMMON,
    { value: "1248x832", label: "1248 × 832 (3:2)" },
    { value: "832x1248", label: "832 × 1248 (2:3)" },
    { value: "1344x576", label: "1344 × 576 (21:9)" },
  ],
};

const PROVIDERS: { value: "" | Provider; label: string }[] = [
  { value: "", label: "Server default" },
  { value: "sdxl", label: "SDXL + IP-Adapter" },
  { value: "imagen", label: "Imagen" },
  { value: "gemini", label: "Gemini" },
];

const SELECT =
  "h-8 w-full min-w-0 rounded-md border border-input bg-background px-2 text-sm focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring";

export function GeneratePanel(props: GeneratePanelProps) {
  const { refs, dispatchRefs, sketch, exampleImage, defaultPrompt, jobs } = props;
  const ids = { prompt: useId(), neg: useId(), sketchW: useId(), provider: useId(), size: useId(), seed: useId(), steps: useId() };
  const [prompt, setPrompt] = useState<string | null>(null); // null: follow the search prompt
  const [negative, setNegative] = useState("");
  const [sketchWeight, setSketchWeight] = useState(0.5);
  const [provider, setProvider] = useState<"" | Provider>("");
  const [size, setSize] = useState(DEFAULT_SIZE.value);
  const [seed, setSeed] = useState("");
  const [steps, setSteps] = useState("");
  const effectivePrompt = prompt ?? defaultPrompt;
  const chooseProvider = (next: "" | Provider) => {
    setProvider(next);
    // Keep the size if the new provider takes it; otherwise 1024 × 1024, which all take.
    if (!SIZES[next].some((s) => s.value === size)) setSize(DEFAULT_SIZE.value);
  };
  const running = jobs.some((e) => e.job === null ? e.error === null : !isTerminal(e.job.status));
  const gate = providerGate(props.info ?? null, provider);
  const canGenerate =
    gate.available && (effectivePrompt.trim().length > 0 || refs.length > 0 || sketch !== null || props.edit !== null);

  const submit = () => {
    const req: GenerateRequest = {
      prompt: effectivePrompt.trim(),
      negativePrompt: negative.trim() || null,
      refs: toGenerateRefs(refs),
      sketch,
      sketchWeight: sketch ? sketchWeight : 0,
      provider: provider || null,
      n: 1,
    };
    const [w, h] = size.split("x").map(Number);
    if (w && h) {
      req.width = w;
      req.height = h;
    }
    const s = Number.parseInt(seed, 10);
    if (Number.isFinite(s)) req.seed = s;
    const st = Number.parseInt(steps, 10);
    if (Number.isFinite(st) && st > 0) req.steps = st;
    props.onSubmit(applyEdit(req, props.edit));
  };

  return (
    <div className="flex flex-col gap-5">
      <section aria-labelledby="refs-h" className="flex flex-col gap-2">
        <div className="flex items-center justify-between">
          <h2 id="refs-h" className="text-xs font-semibold uppercase tracking-wide text-muted-foreground">
            References {refs.length}/{MAX_REFS}
          </h2>
          {refs.length > 0 && (
            <Button size="sm" variant="ghost" onClick={() => dispatchRefs({ type: "clear" })}>
              Clear
            </Button>
          )}
        </div>
        {refs.length === 0 && (
          <p className="rounded-md border border-dashed p-3 text-xs text-muted-foreground">
            Pick results with <ImagePlus className="inline size-3.5" aria-label="use as reference" /> to use them as references: a <b>style</b> reference lends its look, a <b>subject</b> reference its content.
          </p>
        )}
        <ul className="flex flex-col gap-2" aria-label="References">
          {refs.map((r) => (
            <RefRow key={r.key} item={r} dispatch={dispatchRefs} />
          ))}
        </ul>
        {exampleImage && refs.length < MAX_REFS && (
          <Button
            size="sm"
            variant="outline"
            onClick={() => dispatchRefs({ type: "add", source: { kind: "inline", image: exampleImage, label: "Uploaded image" } })}
          >
            <ImagePlus /> Add the uploaded image
          </Button>
        )}
      </section>

      <section aria-labelledby="gen-h" className="flex flex-col gap-3">
        <h2 id="gen-h" className="text-xs font-semibold uppercase tracking-wide text-muted-foreground">
          Generate
        </h2>
        {props.edit && <EditControls edit={props.edit} onChange={props.onEditChange} onLeave={props.onLeaveEdit} />}
        <div className="flex flex-col gap-1.5">
          <Label htmlFor={ids.prompt}>Prompt</Label>
          <Input id={ids.prompt} value={effectivePrompt} placeholder="pop art still life" onChange={(e) => setPrompt(e.target.value)} />
          {prompt !== null && prompt !== defaultPrompt && defaultPrompt && (
            <button type="button" className="cursor-pointer self-start text-[11px] text-muted-foreground hover:underline" onClick={() => setPrompt(null)}>
              Use the search prompt
            </button>
          )}
        </div>
        <div className="flex flex-col gap-1.5">
          <Label htmlFor={ids.neg}>Negative prompt</Label>
          <Input id={ids.neg} value={negative} placeholder="blurry, text" onChange={(e) => setNegative(e.target.value)} />
        </div>
        <div className={cn("flex flex-col gap-1.5", !sketch && "opacity-50")}>
          <div className="flex items-center justify-between">
            <Label htmlFor={ids.sketchW}>Sketch weight</Label>
            <span className="text-xs tabular-nums text-muted-foreground">{sketch ? sketchWeight.toFixed(2) : "no sketch"}</span>
          </div>
          <Slider
            id={ids.sketchW}
            aria-label="Sketch weight"
            min={0}
            max={1}
            step={0.05}
            value={[sketchWeight]}
            disabled={!sketch}
            onValueChange={(v) => setSketchWeight(v[0] ?? 0)}
          />
        </div>
        <div className="grid grid-cols-3 gap-2">
          <div className="col-span-3 grid grid-cols-2 gap-2">
            <div className="flex min-w-0 flex-col gap-1.5">
              <Label htmlFor={ids.provider}>Provider</Label>
              <select id={ids.provider} value={provider} onChange={(e) => chooseProvider(e.target.value as "" | Provider)} className={SELECT}>
                {PROVIDERS.map((p) => (
                  <option key={p.value} value={p.value}>
                    {p.label}
                  </option>
                ))}
              </select>
            </div>
            <div className="flex min-w-0 flex-col gap-1.5">
              <Label htmlFor={ids.size}>Size</Label>
              {/* An edit takes the base image's aspect: applyEdit leaves the size out. */}
              <select id={ids.size} value={size} onChange={(e) => setSize(e.target.value)} className={SELECT} disabled={props.edit !== null} title={props.edit ? "An edit keeps the base image's aspect" : undefined}>
                {SIZES[provider].map((p) => (
                  <option key={p.value} value={p.value}>
                    {p.label}
                  </option>
                ))}
              </select>
            </div>
          </div>
          <div className="flex flex-col gap-1.5">
            <Label htmlFor={ids.seed}>Seed</Label>
            <Input id={ids.seed} inputMode="numeric" value={seed} placeholder="random" onChange={(e) => setSeed(e.target.value.replace(/[^0-9]/g, ""))} className="h-8" />
          </div>
          <div className="flex flex-col gap-1.5">
            <Label htmlFor={ids.steps}>Steps</Label>
            <Input id={ids.steps} inputMode="numeric" value={steps} placeholder="default" onChange={(e) => setSteps(e.target.value.replace(/[^0-9]/g, ""))} className="h-8" />
          </div>
          <div className="flex items-end">
            <Button className="w-full" onClick={submit} disabled={!canGenerate} aria-label="Generate image">
              {running ? <Loader2 className="animate-spin" /> : <Sparkles />}
              Generate
            </Button>
          </div>
        </div>
        {!gate.available ? (
          <ProviderUnavailable gate={gate} />
        ) : (
          !canGenerate && <p className="text-xs text-muted-foreground">Add a prompt, a reference or a sketch to generate.</p>
        )}
      </section>

      {jobs.length > 0 && (
        <section aria-labelledby="jobs-h" className="flex flex-col gap-2">
          <h2 id="jobs-h" className="text-xs font-semibold uppercase tracking-wide text-muted-foreground">
            Jobs
          </h2>
          <ul className="flex flex-col gap-2">
            {jobs.map((e) => (
              <JobCard key={e.key} entry={e} {...props} />
            ))}
          </ul>
        </section>
      )}
    </div>
  );
}

function RefRow({ item, dispatch }: { item: RefItem; dispatch: (a: RefsAction) => void }) {
  const id = useId();
  const src = item.source.kind === "library" ? item.source.thumbUrl : item.source.image;
  const label = item.source.kind === "library" ? item.source.id.slice(0, 8) : item.source.label;
  const setRole = (role: RefRole) => dispatch({ type: "setRole", key: item.key, role });
  return (
    <li className="flex gap-2 rounded-md border bg-background p-1.5" data-testid="ref" data-role={item.role}>
      <AuthImage src={src} alt={`Reference ${label}`} className="size-14 shrink-0 rounded object-cover" />
      <div className="flex min-w-0 flex-1 flex-col gap-1.5">
        <div className="flex items-center gap-1">
          <div role="radiogroup" aria-label={`Role of reference ${label}`} className="inline-flex flex-wrap rounded-md bg-muted p-0.5">
            {REF_ROLES.map((role) => (
              <button
                key={role}
                type="button"
                role="radio"
                aria-checked={item.role === role}
                onClick={() => setRole(role)}
                className={cn(
                  "cursor-pointer rounded px-2 py-0.5 text-xs capitalize text-muted-foreground focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring",
                  item.role === role && "bg-background text-foreground shadow-sm",
                )}
              >
                {role}
              </button>
            ))}
          </div>
          <Button size="icon-sm" variant="ghost" className="ml-auto size-6" aria-label={`Remove reference ${label}`} onClick={() => dispatch({ type: "remove", key: item.key })}>
            <X />
          </Button>
        </div>
        <div className="flex items-center gap-2">
          <Label htmlFor={id} className="text-xs font-normal text-muted-foreground">
            Weight
          </Label>
          <Slider
            id={id}
            aria-label={`Weight of reference ${label}`}
            min={0}
            max={1}
            step={0.05}
            value={[item.weight]}
            onValueChange={(v) => dispatch({ type: "setWeight", key: item.key, weight: v[0] ?? 0 })}
          />
          <span className="w-8 text-right text-xs tabular-nums text-muted-foreground">{item.weight.toFixed(2)}</span>
        </div>
      </div>
    </li>
  );
}

function JobCard({ entry, onCancel, onDismiss, onUseAsQuery, onUseAsUnderlay, onUseAsRef, onEditImage }: { entry: JobEntry } & GeneratePanelProps) {
  const { job, error } = entry;
  const frac = job ? progressFraction(job) : null;
  const status = job?.status ?? (error ? "failed" : "queued");
  const problem = error ? describeError(error) : null;
  const failure = jobFailure(job);
  const ref = useRef<HTMLLIElement>(null);
  useEffect(() => ref.current?.scrollIntoView({ block: "nearest", behavior: "smooth" }), []);
  const done = job?.status === "succeeded";
  useEffect(() => {
    if (done) ref.current?.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }, [done]);
  return (
    <li ref={ref} className="flex flex-col gap-2 rounded-md border bg-background p-2" data-testid="job" data-status={status} aria-live="polite">
      <div className="flex items-start gap-2 text-xs">
        {status === "failed" ? (
          <AlertTriangle className="size-4 shrink-0 text-red-600" aria-hidden />
        ) : !isTerminal(status) ? (
          <Loader2 className="size-4 shrink-0 animate-spin text-muted-foreground" aria-hidden />
        ) : null}
        <span className={cn("flex-1", status === "failed" && "text-red-700")} data-testid="job-status">
          {problem ? `${problem.title} — ${problem.message}` : job ? describeJob(job) : "Submitting…"}
          {failure?.detail && (
            <details className="mt-1 text-muted-foreground" data-testid="job-error-details">
              <summary className="cursor-pointer">Details</summary>
              <pre className="mt-1 max-h-40 overflow-auto whitespace-pre-wrap break-all text-[11px]">{failure.detail}</pre>
            </details>
          )}
        </span>
        {job && !isTerminal(job.status) ? (
          <Button size="sm" variant="ghost" className="h-6 px-1.5" onClick={() => onCancel(entry.key, job.id)}>
            Cancel
          </Button>
        ) : (
          <Button size="icon-sm" variant="ghost" className="size-6" aria-label="Dismiss job" onClick={() => onDismiss(entry.key)}>
            <X />
          </Button>
        )}
      </div>
      {job && !isTerminal(job.status) && (
        <div className="h-1.5 overflow-hidden rounded-full bg-muted" role="progressbar" aria-label="Generation progress" aria-valuemin={0} aria-valuemax={100} aria-valuenow={frac === null ? undefined : Math.round(frac * 100)}>
          <div className={cn("h-full bg-primary transition-[width]", frac === null && "w-1/3 animate-pulse")} style={frac === null ? undefined : { width: `${frac * 100}%` }} />
        </div>
      )}
      {job?.status === "succeeded" &&
        job.result?.images.map((img) => (
          <figure key={img.url} className="flex flex-col gap-1.5">
            <a href={img.url} target="_blank" rel="noreferrer">
              <AuthImage src={img.url} alt="Generated image" className="w-full rounded border bg-muted" data-testid="generated-image" />
            </a>
            <figcaption className="text-[10px] text-muted-foreground">
              {job.result?.provider} · {job.result?.model}
              {job.result?.seed !== null && job.result?.seed !== undefined && <> · seed {job.result.seed}</>}
            </figcaption>
            <div className="grid grid-cols-2 gap-1">
              <Button size="sm" variant="outline" asChild>
                <a href={img.url} download>
                  <Download /> Download
                </a>
              </Button>
              <Button size="sm" variant="outline" onClick={() => onUseAsQuery(img.url)}>
                <Search /> Search by it
              </Button>
              <Button size="sm" variant="outline" onClick={() => onUseAsUnderlay(img.url)}>
                <Layers /> Trace over
              </Button>
              <Button size="sm" variant="outline" onClick={() => onUseAsRef(img.url)}>
                <ImagePlus /> As reference
              </Button>
              <Button size="sm" variant="outline" className="col-span-2" onClick={() => onEditImage(img.url)}>
                <PenTool /> Edit this image
              </Button>
            </div>
          </figure>
        ))}
    </li>
  );
}
