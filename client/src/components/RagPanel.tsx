import { AlertTriangle, ImagePlus, Loader2, Network, Sparkles, Split, X } from "lucide-react";
import { useId, useMemo, useReducer, useRef, useState } from "react";
import { api, isAbort } from "@/api/client";
import type { ComplementaryResult, GenerateRequest } from "@/api/schema";
import { AuthImage } from "@/components/AuthImage";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import type { JobEntry } from "@/hooks/useJobs";
import { cn } from "@/lib/utils";
import { attributionRows, shapeMatrix, toGrounding } from "@/state/coverage";
import { describeError } from "@/state/errors";
import { describeJob, isTerminal, progressFraction } from "@/state/jobs";
import { chipsReducer, chipsSignature, toSubQueries } from "@/state/subqueries";
import { CoverageMatrix, refLabel } from "./CoverageMatrix";
import { KIND_STYLE, SubQueryChips } from "./SubQueryChips";

export type RagJobEntry = JobEntry<ComplementaryResult>;

export interface RagPanelProps {
  defaultPrompt: string;
  jobs: RagJobEntry[];
  onSubmit: (req: GenerateRequest, result: ComplementaryResult) => void;
  onCancel: (key: string, id: string) => void;
  onDismiss: (key: string) => void;
  /** Put the chosen references into the Generate tab (role and weight as suggested). */
  onUseRefs: (result: ComplementaryResult) => void;
  onOpenImage: (url: string) => void;
}

const SIZES = ["1024x1024", "768x768", "512x512", "256x256"];
const SELECT = "h-8 w-full min-w-0 rounded-md border border-input bg-background px-2 text-sm focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring";

type Busy = null | "decompose" | "complementary";

/**
 * Cross-modal RAG: a prompt → its parts (editable chips) → a few references that together
 * cover every part (coverage matrix) → a generation grounded on them, with the attribution.
 */
export function RagPanel({ defaultPrompt, jobs, onSubmit, onCancel, onDismiss, onUseRefs, onOpenImage }: RagPanelProps) {
  const ids = { prompt: useId(), k: useId() };
  const [prompt, setPrompt] = useState<string | null>(null); // null: follow the search prompt
  const [chips, dispatch] = useReducer(chipsReducer, []);
  const [result, setResult] = useState<{ result: ComplementaryResult; signature: string } | null>(null);
  const [busy, setBusy] = useState<Busy>(null);
  const [error, setError] = useState<unknown>(null);
  const [k, setK] = useState(4);
  const [size, setSize] = useState("1024x1024");
  const [steps, setSteps] = useState("");
  const [seed, setSeed] = useState("");
  const abort = useRef<AbortController | null>(null);
  const text = (prompt ?? defaultPrompt).trim();
  const signature = chipsSignature(chips);
  const stale = result !== null && result.signature !== signature;
  const matrix = useMemo(() => (result ? shapeMatrix(result.result) : null), [result]);

  const start = (what: Busy) => {
    abort.current?.abort();
    const ctrl = new AbortController();
    abort.current = ctrl;
    setBusy(what);
    setError(null);
    return ctrl;
  };
  const fail = (ctrl: AbortController, e: unknown) => {
    if (isAbort(e) || abort.current !== ctrl) return;
    setError(e);
    setBusy(null);
  };

  const decompose = async () => {
    if (!text) return;
    const ctrl = start("decompose");
    try {
      const res = await api.decompose(text, ctrl.signal);
      if (abort.current !== ctrl) return;
      dispatch({ type: "set", subQueries: res.subQueries });
      setResult(null);
      setBusy(null);
    } catch (e) {
      fail(ctrl, e);
    }
  };

  const findRefs = async () => {
    if (chips.length === 0 && !text) return;
    const ctrl = start("complementary");
    try {
      const res = await api.complementary(chips.length > 0 ? { subQueries: toSubQueries(chips), limit: k } : { prompt: text, limit: k }, ctrl.signal);
      if (abort.current !== ctrl) return;
      // The answer's sub-queries are what was asked (server-assigned ids when the prompt went).
      const next = chipsReducer([], { type: "set", subQueries: res.subQueries });
      dispatch({ type: "set", subQueries: res.subQueries });
      setResult({ result: res, signature: chipsSignature(next) });
      setBusy(null);
    } catch (e) {
      fail(ctrl, e);
    }
  };

  const generate = () => {
    if (!result || stale) return;
    const req: GenerateRequest = { prompt: text || result.result.prompt || "", refs: [], grounding: true, complementary: toGrounding(result.result), n: 1 };
    const [w, h] = size.split("x").map(Number);
    if (w && h) {
      req.width = w;
      req.height = h;
    }
    const st = Number.parseInt(steps, 10);
    if (Number.isFinite(st) && st > 0) req.steps = st;
    const s = Number.parseInt(seed, 10);
    if (Number.isFinite(s)) req.seed = s;
    onSubmit(req, result.result);
  };

  const problem = error ? describeError(error) : null;
  const r = result?.result;

  return (
    <div className="flex flex-col gap-4" data-testid="rag-panel">
      <section className="flex flex-col gap-2" aria-labelledby="rag-h">
        <h2 id="rag-h" className="text-xs font-semibold uppercase tracking-wide text-muted-foreground">
          Prompt → parts
        </h2>
        <div className="flex flex-col gap-1.5">
          <Label htmlFor={ids.prompt}>RAG prompt</Label>
          <div className="flex gap-1.5">
            {/* Several lines: a RAG prompt names several parts. Enter decomposes, Shift+Enter breaks the line. */}
            <textarea
              id={ids.prompt}
              rows={3}
              value={prompt ?? defaultPrompt}
              placeholder="a watercolor fox and an owl in a snowy forest"
              className="min-h-16 w-full min-w-0 resize-y rounded-md border border-input bg-background px-3 py-1.5 text-sm shadow-xs placeholder:text-muted-foreground focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring"
              onChange={(e) => setPrompt(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === "Enter" && !e.shiftKey) {
                  e.preventDefault();
                  void decompose();
                }
              }}
            />
            <Button variant="outline" onClick={() => void decompose()} disabled={!text || busy !== null} aria-label="Decompose">
              {busy === "decompose" ? <Loader2 className="animate-spin" /> : <Split />}
              <span className="hidden xl:inline">Decompose</span>
            </Button>
          </div>
          {prompt !== null && prompt !== defaultPrompt && defaultPrompt && (
            <button type="button" className="cursor-pointer self-start text-[11px] text-muted-foreground hover:underline" onClick={() => setPrompt(null)}>
              Use the search prompt
            </button>
          )}
        </div>
        <SubQueryChips chips={chips} dispatch={dispatch} disabled={busy !== null} />
      </section>

      <section className="flex flex-col gap-2" aria-labelledby="rag-refs-h">
        <h2 id="rag-refs-h" className="text-xs font-semibold uppercase tracking-wide text-muted-foreground">
          Complementary references
        </h2>
        <div className="flex items-center gap-2">
          <Label htmlFor={ids.k}>At most</Label>
          <select id={ids.k} value={k} onChange={(e) => setK(Number(e.target.value))} className={cn(SELECT, "w-auto")}>
            {[1, 2, 3, 4].map((n) => (
              <option key={n} value={n}>
                {n} ref{n > 1 ? "s" : ""}
              </option>
            ))}
          </select>
        </div>
        <Button className="w-full" onClick={() => void findRefs()} disabled={busy !== null || (chips.length === 0 && !text)}>
          {busy === "complementary" ? <Loader2 className="animate-spin" /> : <Network />}
          Find complementary refs
        </Button>
        {problem && (
          <p role="alert" className="flex items-start gap-1.5 text-xs text-red-700">
            <AlertTriangle className="mt-0.5 size-3.5 shrink-0" aria-hidden />
            <span>
              <b>{problem.title}:</b> {problem.message}
            </span>
          </p>
        )}
        {r && matrix && (
          <div className={cn("flex flex-col gap-2 transition-opacity", stale && "opacity-60")}>
            <p className="text-xs text-muted-foreground" data-testid="rag-summary">
              {r.refs.length} reference{r.refs.length === 1 ? "" : "s"} cover {matrix.covered} of {matrix.columns.length} parts · coverage {Math.round(r.coverage * 100)}% · {r.method} over{" "}
              {r.candidates} candidates
            </p>
            {r.refs.length === 0 ? (
              <p className="rounded-md border border-dashed p-3 text-xs text-muted-foreground">No reference matched any part. Is the library empty?</p>
            ) : (
              <CoverageMatrix matrix={matrix} onOpen={onOpenImage} />
            )}
            {stale && (
              <p className="text-xs text-amber-800" role="status">
                The parts changed since these references were found: find them again before generating.
              </p>
            )}
          </div>
        )}
      </section>

      {r && r.refs.length > 0 && (
        <section className="flex flex-col gap-2" aria-labelledby="rag-gen-h">
          <h2 id="rag-gen-h" className="text-xs font-semibold uppercase tracking-wide text-muted-foreground">
            Grounded generation
          </h2>
          <div className="grid grid-cols-3 gap-2">
            <div className="flex min-w-0 flex-col gap-1.5">
              <span className="text-xs font-medium leading-none text-foreground/80">Size</span>
              <select value={size} onChange={(e) => setSize(e.target.value)} className={SELECT} aria-label="Grounded size">
                {SIZES.map((s) => (
                  <option key={s} value={s}>
                    {s.split("x")[0]} px
                  </option>
                ))}
              </select>
            </div>
            <div className="flex min-w-0 flex-col gap-1.5">
              <span className="text-xs font-medium leading-none text-foreground/80">Steps</span>
              <Input aria-label="Grounded steps" inputMode="numeric" value={steps} placeholder="default" className="h-8" onChange={(e) => setSteps(e.target.value.replace(/[^0-9]/g, ""))} />
            </div>
            <div className="flex min-w-0 flex-col gap-1.5">
              <span className="text-xs font-medium leading-none text-foreground/80">Seed</span>
              <Input aria-label="Grounded seed" inputMode="numeric" value={seed} placeholder="random" className="h-8" onChange={(e) => setSeed(e.target.value.replace(/[^0-9]/g, ""))} />
            </div>
          </div>
          <div className="flex flex-col gap-1.5">
            <Button onClick={generate} disabled={stale || !(text || r.prompt)}>
              <Sparkles /> Generate grounded
            </Button>
            <Button variant="outline" size="sm" onClick={() => onUseRefs(r)} disabled={stale}>
              <ImagePlus /> Use as references in Generate
            </Button>
          </div>
        </section>
      )}

      {jobs.length > 0 && (
        <section className="flex flex-col gap-2" aria-labelledby="rag-jobs-h">
          <h2 id="rag-jobs-h" className="text-xs font-semibold uppercase tracking-wide text-muted-foreground">
            Grounded jobs
          </h2>
          <ul className="flex flex-col gap-2">
            {jobs.map((e) => (
              <RagJobCard key={e.key} entry={e} onCancel={onCancel} onDismiss={onDismiss} />
            ))}
          </ul>
        </section>
      )}
    </div>
  );
}

function RagJobCard({ entry, onCancel, onDismiss }: { entry: RagJobEntry; onCancel: (k: string, id: string) => void; onDismiss: (k: string) => void }) {
  const { job, error } = entry;
  const status = job?.status ?? (error ? "failed" : "queued");
  const frac = job ? progressFraction(job) : null;
  const problem = error ? describeError(error) : null;
  const rows = attributionRows(job?.result?.attribution, entry.meta?.refs ?? []);
  return (
    <li className="flex flex-col gap-2 rounded-md border bg-background p-2" data-testid="rag-job" data-status={status} aria-live="polite">
      <div className="flex items-start gap-2 text-xs">
        {status === "failed" ? (
          <AlertTriangle className="size-4 shrink-0 text-red-600" aria-hidden />
        ) : !isTerminal(status) ? (
          <Loader2 className="size-4 shrink-0 animate-spin text-muted-foreground" aria-hidden />
        ) : null}
        <span className={cn("flex-1", status === "failed" && "text-red-700")} data-testid="rag-job-status">
          {problem ? `${problem.title} — ${problem.message}` : job ? describeJob(job) : "Submitting…"}
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
      {job?.status === "succeeded" && (
        <div className="grid grid-cols-[minmax(0,1fr)_minmax(0,1.2fr)] gap-2">
          <div className="flex flex-col gap-1">
            {job.result?.images.map((img) => (
              <a key={img.url} href={img.url} target="_blank" rel="noreferrer">
                <AuthImage src={img.url} alt="Grounded generated image" className="w-full rounded border bg-muted" data-testid="rag-generated-image" />
              </a>
            ))}
          </div>
          <ul className="flex min-w-0 flex-col gap-1" aria-label="Attribution: which reference informed which part" data-testid="attribution">
            {rows.length === 0 && <li className="text-[11px] text-muted-foreground">The job did not report an attribution.</li>}
            {rows.map((a) => (
              <li key={a.subQueryId} className="flex items-center gap-1.5 text-[11px]" data-testid="attribution-row" data-ref={a.refId ?? ""}>
                {a.ref ? (
                  <AuthImage src={a.ref.thumbUrl} alt={refLabel(a.ref)} className="size-7 shrink-0 rounded border object-cover" />
                ) : (
                  <span className="inline-flex size-7 shrink-0 items-center justify-center rounded border border-dashed text-muted-foreground">–</span>
                )}
                <span className="min-w-0 flex-1">
                  <span className="flex items-center gap-1">
                    <span className={cn("inline-block size-1.5 shrink-0 rounded-full", KIND_STYLE[a.kind as keyof typeof KIND_STYLE]?.dot ?? "bg-muted-foreground")} aria-hidden />
                    <span className="truncate font-medium">{a.text}</span>
                  </span>
                  <span className="block truncate text-muted-foreground" title={a.refId ? `role ${a.role}, weight ${a.weight}, score ${a.score}` : undefined}>
                    {a.refId ? `${a.role ?? "ref"} · ${a.weight?.toFixed(2) ?? "–"}` : "no reference"}
                  </span>
                </span>
              </li>
            ))}
          </ul>
        </div>
      )}
    </li>
  );
}
