import { AlertTriangle, CheckCircle2, FileArchive, Link2, Loader2, Upload, X } from "lucide-react";
import { useId, useState } from "react";
import type { ImportOptions } from "@/api/schema";
import { Button } from "@/components/ui/button";
import { Dialog, DialogContent, DialogDescription, DialogTitle } from "@/components/ui/dialog";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { Tabs, TabsContent, TabsList, TabsTrigger } from "@/components/ui/tabs";
import type { ImportSource } from "@/hooks/useImport";
import { cn } from "@/lib/utils";
import { describeError } from "@/state/errors";
import { describeImport, importFraction, isImportable, isImportActive, isValidLibrary, parseTags, parseUrls, uploadedName, type ImportState } from "@/state/imports";

export interface ImportDialogProps {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  defaultLibrary: string;
  /** The libraries to offer in the field's list (GET /libraries and those seen). */
  libraries?: readonly string[];
  state: ImportState;
  onSubmit: (library: string, source: ImportSource, tags: string[], options: ImportOptions) => void;
  onReset: () => void;
}

function sizeLabel(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1024))} KB`;
}

/** Import images or ZIPs (dropped or chosen) or a list of URLs into a library, as a job. */
export function ImportDialog({ open, onOpenChange, defaultLibrary, libraries = [], state, onSubmit, onReset }: ImportDialogProps) {
  const ids = { library: useId(), libraries: useId(), tags: useId(), files: useId(), urls: useId(), near: useId() };
  const [library, setLibrary] = useState<string | null>(null);
  const [tags, setTags] = useState("");
  const [mode, setMode] = useState("files");
  const [files, setFiles] = useState<File[]>([]);
  const [refused, setRefused] = useState<string[]>([]);
  const [urlText, setUrlText] = useState("");
  const [dragging, setDragging] = useState(false);
  const [skipNear, setSkipNear] = useState(false);
  const lib = library ?? defaultLibrary;
  const libOk = isValidLibrary(lib);
  const parsed = parseUrls(urlText);
  const active = isImportActive(state);
  const done = state.phase === "succeeded" || state.phase === "failed" || state.phase === "cancelled";
  const canSubmit = libOk && !active && (mode === "files" ? files.length > 0 : parsed.urls.length > 0);

  const addFiles = (list: FileList | File[] | null) => {
    if (!list) return;
    const ok: File[] = [];
    const bad: string[] = [];
    for (const f of Array.from(list)) {
      if (isImportable(f)) ok.push(f);
      else bad.push(f.name || "(unnamed)");
    }
    setFiles((prev) => [...prev, ...ok.filter((f) => !prev.some((p) => p.name === f.name && p.size === f.size))]);
    setRefused(bad);
    if (done) onReset();
  };

  const submit = () => {
    if (!canSubmit) return;
    onSubmit(lib, mode === "files" ? { kind: "files", files } : { kind: "urls", urls: parsed.urls }, parseTags(tags), { skipNearDuplicates: skipNear });
  };

  const startOver = () => {
    setFiles([]);
    setRefused([]);
    setUrlText("");
    onReset();
  };

  const frac = importFraction(state);
  const problem = state.error ? describeError(state.error) : null;

  return (
    <Dialog open={open} onOpenChange={onOpenChange}>
      <DialogContent className="w-[min(96vw,560px)]" data-testid="import-dialog">
        <DialogTitle>Import into the library</DialogTitle>
        <DialogDescription>Images and ZIPs of images, or a list of image URLs. Files already in the library are skipped.</DialogDescription>
        <div className="grid grid-cols-2 gap-2">
          <div className="flex flex-col gap-1.5">
            <Label htmlFor={ids.library}>Library</Label>
            <Input id={ids.library} list={ids.libraries} value={lib} placeholder="a library name" onChange={(e) => setLibrary(e.target.value)} aria-invalid={!libOk} disabled={active} />
            <datalist id={ids.libraries}>
              {libraries.map((name) => (
                <option key={name} value={name} />
              ))}
            </datalist>
            {!libOk && <span className="text-[11px] text-red-700">{lib ? "1–64 letters, digits, - and _" : "Name the library to import into"}</span>}
          </div>
          <div className="flex flex-col gap-1.5">
            <Label htmlFor={ids.tags}>Tags (comma-separated)</Label>
            <Input id={ids.tags} value={tags} placeholder="holiday, 2024" onChange={(e) => setTags(e.target.value)} disabled={active} />
          </div>
        </div>
        <Tabs value={mode} onValueChange={setMode}>
          <TabsList>
            <TabsTrigger value="files" disabled={active}>
              <FileArchive className="size-4" aria-hidden /> Files / ZIP
            </TabsTrigger>
            <TabsTrigger value="urls" disabled={active}>
              <Link2 className="size-4" aria-hidden /> URLs
            </TabsTrigger>
          </TabsList>
          <TabsContent value="files" className="flex flex-col gap-2">
            <label
              htmlFor={ids.files}
              data-testid="import-drop"
              className={cn(
                "flex cursor-pointer flex-col items-center gap-1 rounded-md border-2 border-dashed p-5 text-center text-sm text-muted-foreground transition-colors",
                dragging && "border-indigo-500 bg-indigo-50",
                active && "pointer-events-none opacity-50",
              )}
              onDragOver={(e) => {
                e.preventDefault();
                setDragging(true);
              }}
              onDragLeave={() => setDragging(false)}
              onDrop={(e) => {
                e.preventDefault();
                setDragging(false);
                addFiles(e.dataTransfer.files);
              }}
            >
              <Upload className="size-6" aria-hidden />
              <span>
                Drop images or ZIPs here, or <span className="text-foreground underline underline-offset-2">choose files</span>
              </span>
            </label>
            <input
              id={ids.files}
              data-testid="import-files"
              type="file"
              multiple
              accept="image/*,.zip,application/zip"
              className="sr-only"
              onChange={(e) => {
                addFiles(e.target.files);
                e.target.value = "";
              }}
            />
            {files.length > 0 && (
              <ul className="flex max-h-32 flex-col gap-0.5 overflow-y-auto text-xs" aria-label="Files to import" data-testid="import-file-list">
                {files.map((f) => (
                  <li key={`${f.name}:${f.size}`} className="flex items-center gap-2">
                    <span className="min-w-0 flex-1 truncate">{f.name}</span>
                    <span className="tabular-nums text-muted-foreground">{sizeLabel(f.size)}</span>
                    <Button
                      size="icon-sm"
                      variant="ghost"
                      className="size-5"
                      aria-label={`Remove ${f.name}`}
                      disabled={active}
                      onClick={() => setFiles((prev) => prev.filter((p) => p !== f))}
                    >
                      <X />
                    </Button>
                  </li>
                ))}
              </ul>
            )}
            {refused.length > 0 && <p className="text-xs text-amber-800">Not images or ZIPs, left out: {refused.join(", ")}</p>}
          </TabsContent>
          <TabsContent value="urls" className="flex flex-col gap-1.5">
            <Label htmlFor={ids.urls}>Image URLs, one per line</Label>
            <textarea
              id={ids.urls}
              value={urlText}
              rows={5}
              disabled={active}
              placeholder={"https://example.org/a.jpg\nhttps://example.org/b.png"}
              onChange={(e) => setUrlText(e.target.value)}
              className="w-full rounded-md border border-input bg-background px-3 py-2 font-mono text-xs focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring"
            />
            <p className="text-xs text-muted-foreground">
              {parsed.urls.length} URL{parsed.urls.length === 1 ? "" : "s"}
              {parsed.rejected.length > 0 && <span className="text-amber-800"> · not http(s), left out: {parsed.rejected.slice(0, 3).join(", ")}{parsed.rejected.length > 3 ? "…" : ""}</span>}
            </p>
          </TabsContent>
        </Tabs>
        <label htmlFor={ids.near} className="flex items-center gap-2 text-sm">
          <input
            id={ids.near}
            type="checkbox"
            data-testid="import-skip-near"
            className="size-4 accent-indigo-600"
            checked={skipNear}
            disabled={active}
            onChange={(e) => setSkipNear(e.target.checked)}
          />
          Skip near-duplicates
          <span className="text-xs text-muted-foreground">(pictures almost identical to one already in the library)</span>
        </label>

        {state.phase !== "idle" && (
          <div className="flex flex-col gap-1.5 rounded-md border p-2" data-testid="import-status" data-phase={state.phase} aria-live="polite">
            <div className="flex items-center gap-2 text-sm">
              {active ? (
                <Loader2 className="size-4 animate-spin text-muted-foreground" aria-hidden />
              ) : state.phase === "succeeded" ? (
                <CheckCircle2 className="size-4 text-emerald-600" aria-hidden />
              ) : (
                <AlertTriangle className="size-4 text-red-600" aria-hidden />
              )}
              <span data-testid="import-status-text">{describeImport(state)}</span>
            </div>
            <div
              className="h-2 overflow-hidden rounded-full bg-muted"
              role="progressbar"
              aria-label="Import progress"
              data-testid="import-progress"
              aria-valuemin={0}
              aria-valuemax={100}
              aria-valuenow={frac === null ? undefined : Math.round(frac * 100)}
            >
              <div className={cn("h-full bg-emerald-600 transition-[width]", frac === null && "w-1/3 animate-pulse")} style={frac === null ? undefined : { width: `${frac * 100}%` }} />
            </div>
            {state.total > 0 && (
              <span className="text-xs tabular-nums text-muted-foreground" data-testid="import-counts">
                {state.done} / {state.total}
              </span>
            )}
            {problem && (
              <p role="alert" className="text-xs text-red-700">
                <b>{problem.title}:</b> {problem.message}
              </p>
            )}
            {state.result?.nearDuplicates && state.result.nearDuplicates.length > 0 && (
              <div className="flex flex-col gap-1">
                <span className="text-xs font-medium text-amber-800">{state.result.nearDuplicates.length} skipped as near-duplicates</span>
                <ul className="max-h-32 overflow-y-auto text-xs" data-testid="import-near-duplicates">
                  {state.result.nearDuplicates.map((d, i) => (
                    <li key={`${d.path}:${i}`} className="border-t py-0.5" title={`cosine ${d.score.toFixed(4)}`}>
                      <span className="break-all font-mono font-medium">{uploadedName(d.path, state.names) ?? d.path}</span> —{" "}
                      <span className="text-muted-foreground">like {d.duplicateOf}</span>
                    </li>
                  ))}
                </ul>
              </div>
            )}
            {state.result && state.result.failed.length > 0 && (
              <div className="flex flex-col gap-1">
                <span className="text-xs font-medium text-red-700">{state.result.failed.length} failed</span>
                <ul className="max-h-40 overflow-y-auto text-xs" data-testid="import-failures">
                  {state.result.failed.map((f, i) => {
                    const name = uploadedName(f.path, state.names);
                    return (
                      <li key={`${f.path}:${i}`} className="border-t py-0.5" title={f.path}>
                        <span className="break-all font-mono font-medium">{name ?? f.path}</span> — <span className="text-muted-foreground">{f.reason}</span>
                      </li>
                    );
                  })}
                </ul>
              </div>
            )}
          </div>
        )}

        <div className="flex justify-end gap-2">
          {done ? (
            <>
              <Button variant="outline" onClick={startOver}>
                Import more
              </Button>
              <Button onClick={() => onOpenChange(false)}>Close</Button>
            </>
          ) : (
            <>
              <Button variant="outline" onClick={() => onOpenChange(false)}>
                {active ? "Hide" : "Cancel"}
              </Button>
              <Button onClick={submit} disabled={!canSubmit} aria-label="Start import">
                {active ? <Loader2 className="animate-spin" /> : <Upload />}
                Import{mode === "files" && files.length > 0 ? ` ${files.length} file${files.length === 1 ? "" : "s"}` : ""}
              </Button>
            </>
          )}
        </div>
      </DialogContent>
    </Dialog>
  );
}
