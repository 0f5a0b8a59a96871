import { AlertTriangle, Copy, FolderMinus, FolderPlus, ImageOff, Images, Loader2, Trash2, Upload, X } from "lucide-react";
import { useCallback, useEffect, useId, useMemo, useRef, useState } from "react";
import { api } from "@/api/client";
import type { ImageSummary, ImportResult, Job } from "@/api/schema";
import { AuthImage } from "@/components/AuthImage";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { Tabs, TabsContent, TabsList, TabsTrigger } from "@/components/ui/tabs";
import { useImport } from "@/hooks/useImport";
import { useLibraries } from "@/hooks/useLibraries";
import { useLibrary } from "@/hooks/useLibrary";
import { describeError } from "@/state/errors";
import { describeImport, isImportActive } from "@/state/imports";
import { canDeleteLibrary, defaultImportLibrary, libraryLabel, mergeLibraries } from "@/state/libraries";
import { canLoadMoreLibrary, tagCounts } from "@/state/library";
import { columnCount, masonryColumns } from "@/state/masonry";
import { ConfirmDialog } from "./ConfirmDialog";
import { DuplicatesView } from "./DuplicatesView";
import { ImportDialog } from "./ImportDialog";
import { NewLibraryDialog } from "./NewLibraryDialog";

export interface LibraryViewProps {
  /** The view is on screen: load (and reload) only then. */
  active: boolean;
  /** The library changed (import, delete): refresh what depends on it (/info). */
  onChanged: () => void;
  onOpenImage: (url: string) => void;
  /** Bumped when the API key changes: reload the libraries and images it may see. */
  authVersion?: number;
}

function useWidth<T extends HTMLElement>() {
  const ref = useRef<T>(null);
  const [width, setWidth] = useState(0);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const ro = new ResizeObserver((entries) => setWidth(entries[0]?.contentRect.width ?? 0));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  return [ref, width] as const;
}

function label(item: ImageSummary): string {
  return item.tags.slice(0, 5).join(", ") || item.path || item.id;
}

/** Browse the library (masonry, infinite scroll, tag filter), delete, import, duplicates. */
export function LibraryView({ active, onChanged, onOpenImage, authVersion = 0 }: LibraryViewProps) {
  const ids = { library: useId(), tag: useId(), tags: useId() };
  const [library, setLibrary] = useState("");
  const [tagDraft, setTagDraft] = useState("");
  const [tag, setTag] = useState("");
  const [sub, setSub] = useState("browse");
  const [importOpen, setImportOpen] = useState(false);
  const [confirm, setConfirm] = useState<ImageSummary | null>(null);
  const [deleting, setDeleting] = useState(false);
  const [actionError, setActionError] = useState<unknown>(null);
  const [newOpen, setNewOpen] = useState(false);
  const [confirmLibrary, setConfirmLibrary] = useState<string | null>(null);
  // Names seen on images, imports and creations: GET /libraries lists records only.
  const [seen, setSeen] = useState<string[]>([]);
  const listed = useLibraries(active);
  const refreshList = listed.refresh;
  const { state, loadMore, reload, removed } = useLibrary(library, tag, active && sub === "browse");
  const options = useMemo(() => mergeLibraries(listed.libraries, seen), [listed.libraries, seen]);
  const selected = options.find((o) => o.name === library);
  const see = useCallback((name: string) => setSeen((l) => (l.includes(name) ? l : [...l, name])), []);

  const onImported = useCallback(
    (job: Job<ImportResult>) => {
      if (job.result?.library) see(job.result.library);
      reload();
      refreshList();
      onChanged();
    },
    [reload, onChanged, see, refreshList],
  );
  const imports = useImport(onImported);

  useEffect(() => {
    const names = state.items.map((i) => i.library).filter((l): l is string => !!l);
    if (names.some((l) => !seen.includes(l))) setSeen((prev) => [...new Set([...prev, ...names])]);
  }, [state.items, seen]);

  // A new key may see other libraries: list them and the images again.
  const firstAuth = useRef(authVersion);
  useEffect(() => {
    if (authVersion === firstAuth.current) return;
    firstAuth.current = authVersion;
    setSeen([]);
    refreshList();
    reload();
  }, [authVersion, refreshList, reload]);

  // Apply the tag filter once typing settles.
  useEffect(() => {
    const t = setTimeout(() => setTag(tagDraft.trim()), 350);
    return () => clearTimeout(t);
  }, [tagDraft]);

  const [gridRef, width] = useWidth<HTMLDivElement>();
  const n = columnCount(width, 170, 8);
  const columns = useMemo(() => masonryColumns(state.items, n), [state.items, n]);
  const sentinel = useRef<HTMLDivElement>(null);
  const more = canLoadMoreLibrary(state);
  useEffect(() => {
    const el = sentinel.current;
    if (!el || !more || !active) return;
    const io = new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && void loadMore(), { rootMargin: "600px 0px" });
    io.observe(el);
    return () => io.disconnect();
  }, [more, state.items.length, loadMore, active]);

  const tags = useMemo(() => tagCounts(state.items, 40), [state.items]);

  const doDelete = async () => {
    if (!confirm) return;
    setDeleting(true);
    setActionError(null);
    try {
      await api.deleteImage(confirm.id);
      removed([confirm.id]);
      onChanged();
    } catch (e) {
      setActionError(e);
    } finally {
      setDeleting(false);
      setConfirm(null);
    }
  };

  const doDeleteLibrary = async () => {
    if (!confirmLibrary) return;
    const name = confirmLibrary;
    setDeleting(true);
    setActionError(null);
    try {
      await api.deleteLibrary(name);
      setSeen((l) => l.filter((n) => n !== name));
      setLibrary((l) => (l === name ? "" : l));
      refreshList();
      reload();
      onChanged();
    } catch (e) {
      setActionError(e);
    } finally {
      setDeleting(false);
      setConfirmLibrary(null);
    }
  };

  const listProblem = state.status === "error" ? describeError(state.error) : null;
  const librariesProblem = listed.error !== null ? describeError(listed.error) : null;
  const importing = isImportActive(imports.state);

  return (
    <section aria-label="Library browser" className="flex min-h-0 flex-1 flex-col" data-testid="library-view">
      <Tabs value={sub} onValueChange={setSub} className="flex min-h-0 flex-1 flex-col gap-0">
        <div className="sticky top-0 z-10 flex flex-wrap items-center gap-2 border-b bg-background px-3 py-2">
          <TabsList className="w-auto">
            <TabsTrigger value="browse">
              <Images className="size-4" aria-hidden /> Browse
            </TabsTrigger>
            <TabsTrigger value="duplicates">
              <Copy className="size-4" aria-hidden /> Duplicates
            </TabsTrigger>
          </TabsList>
          <label htmlFor={ids.library} className="sr-only">
            Library
          </label>
          <select
            id={ids.library}
            value={library}
            onChange={(e) => setLibrary(e.target.value)}
            className="h-9 rounded-md border border-input bg-background px-2 text-sm focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring"
          >
            <option value="">All libraries</option>
            {options.map((o) => (
              <option key={o.name} value={o.name}>
                {libraryLabel(o)}
              </option>
            ))}
          </select>
          <Button size="icon-sm" variant="outline" className="size-9" aria-label="New library" title="New library" onClick={() => setNewOpen(true)}>
            <FolderPlus />
          </Button>
          {canDeleteLibrary(selected) && (
            <Button size="icon-sm" variant="outline" className="size-9" aria-label={`Delete library ${library}`} title="Delete this library" onClick={() => setConfirmLibrary(library)}>
              <FolderMinus />
            </Button>
          )}
          {sub === "browse" && (
            <div className="relative">
              <label htmlFor={ids.tag} className="sr-only">
                Filter by tag
              </label>
              <Input id={ids.tag} list={ids.tags} value={tagDraft} placeholder="Filter by tag" className="w-44 pr-7" onChange={(e) => setTagDraft(e.target.value)} />
              <datalist id={ids.tags}>
                {tags.map((t) => (
                  <option key={t.tag} value={t.tag}>
                    {t.count}
                  </option>
                ))}
              </datalist>
              {tagDraft && (
                <button
                  type="button"
                  className="absolute right-1.5 top-1/2 -translate-y-1/2 cursor-pointer rounded p-0.5 text-muted-foreground hover:text-foreground"
                  aria-label="Clear the tag filter"
                  onClick={() => setTagDraft("")}
                >
                  <X className="size-3.5" />
                </button>
              )}
            </div>
          )}
          {sub === "browse" && (
            <span className="text-xs tabular-nums text-muted-foreground" data-testid="library-count" aria-live="polite">
              {state.total === null ? (state.status === "loading" ? "Loading…" : "") : `${state.total} image${state.total === 1 ? "" : "s"}`}
              {state.total !== null && state.items.length < state.total && ` · ${state.items.length} shown`}
            </span>
          )}
          <div className="ml-auto flex items-center gap-2">
            {importing && (
              <button type="button" className="flex cursor-pointer items-center gap-1 text-xs text-muted-foreground" onClick={() => setImportOpen(true)}>
                <Loader2 className="size-3.5 animate-spin" aria-hidden /> {describeImport(imports.state)}
              </button>
            )}
            <Button onClick={() => setImportOpen(true)}>
              <Upload /> Import
            </Button>
          </div>
        </div>

        {librariesProblem && (
          <p role="alert" className="mx-3 mt-2 flex items-center gap-2 text-xs text-red-700" data-testid="libraries-error">
            <AlertTriangle className="size-3.5 shrink-0" aria-hidden />
            <span className="flex-1">
              <b>Libraries — {librariesProblem.title}:</b> {librariesProblem.message}
            </span>
            <Button size="sm" variant="outline" onClick={listed.refresh}>
              Retry
            </Button>
          </p>
        )}
        {actionError !== null && (
          <p role="alert" className="mx-3 mt-2 flex items-center gap-2 rounded-md border border-red-200 bg-red-50 p-2 text-sm text-red-800">
            <AlertTriangle className="size-4 shrink-0" aria-hidden />
            <span className="flex-1">
              <b>{describeError(actionError).title}:</b> {describeError(actionError).message}
            </span>
            <Button size="icon-sm" variant="ghost" className="size-6" aria-label="Dismiss" onClick={() => setActionError(null)}>
              <X />
            </Button>
          </p>
        )}

        <TabsContent value="browse" forceMount hidden={sub !== "browse"} className="min-h-0 flex-1 overflow-y-auto p-3" data-testid="library-scroll">
          <div ref={gridRef} aria-busy={state.status === "loading" || state.status === "loadingMore"}>
            {listProblem && (
              <div role="alert" className="mx-auto flex max-w-md flex-col items-center gap-2 py-16 text-center">
                <AlertTriangle className="size-8 text-red-600" aria-hidden />
                <h2 className="text-base font-semibold">{listProblem.title}</h2>
                <p className="text-sm text-muted-foreground">{listProblem.message}</p>
                <Button size="sm" variant="outline" onClick={reload}>
                  Try again
                </Button>
              </div>
            )}
            {state.status === "ready" && state.items.length === 0 && (
              <div role="status" className="mx-auto flex max-w-md flex-col items-center gap-2 py-16 text-center">
                <ImageOff className="size-8 text-muted-foreground" aria-hidden />
                <h2 className="text-base font-semibold">{tag ? "Nothing matches this filter" : library ? `“${library}” is empty` : "The library is empty"}</h2>
                <p className="text-sm text-muted-foreground">{tag ? "Clear the tag or pick another library." : "Import images or a ZIP to get started."}</p>
              </div>
            )}
            {state.items.length > 0 && (
              <div className="flex items-start gap-2.5 data-[refreshing=true]:opacity-50" data-refreshing={state.status === "loading"} data-testid="library-grid">
                {columns.map((col, c) => (
                  <div key={c} className="flex min-w-0 flex-1 flex-col gap-2.5">
                    {col.map((i) => {
                      const item = state.items[i] as ImageSummary;
                      return <LibraryCard key={item.id} item={item} onOpen={onOpenImage} onTag={setTagDraft} onDelete={setConfirm} />;
                    })}
                  </div>
                ))}
              </div>
            )}
            <div ref={sentinel} className="h-px" aria-hidden />
            {state.status === "loadingMore" && (
              <p className="flex items-center justify-center gap-2 py-4 text-sm text-muted-foreground">
                <Loader2 className="size-4 animate-spin" /> Loading more…
              </p>
            )}
            {state.moreError !== null && (
              <p role="alert" className="flex items-center justify-center gap-2 py-4 text-sm text-red-700">
                {describeError(state.moreError).message}
                <Button size="sm" variant="outline" onClick={reload}>
                  Reload
                </Button>
              </p>
            )}
            {state.status === "ready" && state.items.length > 0 && state.nextCursor === null && (
              <p className="py-4 text-center text-xs text-muted-foreground">End of the library · {state.items.length} shown</p>
            )}
          </div>
        </TabsContent>
        <TabsContent value="duplicates" className="min-h-0 flex-1 overflow-y-auto p-3">
          {sub === "duplicates" && (
            <DuplicatesView
              library={library}
              onDeleted={(deleted) => {
                removed(deleted);
                onChanged();
              }}
              onOpenImage={onOpenImage}
            />
          )}
        </TabsContent>
      </Tabs>

      <ImportDialog
        open={importOpen}
        onOpenChange={setImportOpen}
        defaultLibrary={defaultImportLibrary(options, library)}
        libraries={options.filter((o) => o.writable).map((o) => o.name)}
        state={imports.state}
        onSubmit={(lib, source, t, options) => void imports.submit(lib, source, t, options)}
        onReset={imports.reset}
      />
      <NewLibraryDialog
        open={newOpen}
        onOpenChange={setNewOpen}
        options={options}
        onCreated={(created) => {
          see(created.name);
          setLibrary(created.name);
          refreshList();
        }}
      />
      <ConfirmDialog
        open={confirmLibrary !== null}
        title={`Delete the library “${confirmLibrary ?? ""}”?`}
        confirmLabel="Delete library"
        busy={deleting}
        onCancel={() => setConfirmLibrary(null)}
        onConfirm={() => void doDeleteLibrary()}
      >
        <span>
          All {selected?.images != null ? `${selected.images} ` : ""}images in it leave the search, with their thumbnails and the files the library owns. This cannot be undone.
        </span>
      </ConfirmDialog>
      <ConfirmDialog
        open={confirm !== null}
        title="Delete this image?"
        confirmLabel="Delete"
        busy={deleting}
        onCancel={() => setConfirm(null)}
        onConfirm={() => void doDelete()}
      >
        {confirm && (
          <div className="flex items-center gap-3">
            <AuthImage src={confirm.thumbUrl} alt="" className="size-16 shrink-0 rounded border object-cover" />
            <span>
              It leaves the library and its searches. Its file is removed only when the library owns it (an upload or import);
              files the library points at are kept.
            </span>
          </div>
        )}
      </ConfirmDialog>
    </section>
  );
}

function LibraryCard({
  item,
  onOpen,
  onTag,
  onDelete,
}: {
  item: ImageSummary;
  onOpen: (url: string) => void;
  onTag: (tag: string) => void;
  onDelete: (item: ImageSummary) => void;
}) {
  const ratio = item.width && item.height ? `${item.width} / ${item.height}` : "1 / 1";
  return (
    <article data-testid="library-item" data-id={item.id} className="group relative flex flex-col gap-1 rounded-lg border bg-background p-1.5 shadow-xs" aria-label={label(item)}>
      <button
        type="button"
        className="relative block cursor-zoom-in overflow-hidden rounded-md bg-muted focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring"
        style={{ aspectRatio: ratio }}
        onClick={() => onOpen(item.imageUrl)}
        aria-label={`Open ${label(item)}`}
      >
        <AuthImage src={item.thumbUrl} alt={label(item)} loading="lazy" decoding="async" className="size-full object-contain" />
      </button>
      <Button
        size="icon-sm"
        variant="secondary"
        className="absolute right-2.5 top-2.5 size-7 opacity-0 shadow transition-opacity group-focus-within:opacity-100 group-hover:opacity-100 [@media(hover:none)]:opacity-100"
        aria-label={`Delete ${label(item)}`}
        onClick={() => onDelete(item)}
      >
        <Trash2 />
      </Button>
      <div className="flex flex-wrap gap-1">
        {item.library && item.library !== "default" && <Badge variant="outline">{item.library}</Badge>}
        {item.tags.slice(0, 4).map((t) => (
          <button key={t} type="button" className="cursor-pointer" onClick={() => onTag(t)} aria-label={`Filter by tag ${t}`}>
            <Badge>{t}</Badge>
          </button>
        ))}
      </div>
    </article>
  );
}
