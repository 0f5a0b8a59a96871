import { BookOpen, Images, Network, PencilLine, Sparkles, SlidersHorizontal } from "lucide-react";
import { useCallback, useEffect, useMemo, useReducer, useState } from "react";
import type { ComplementaryResult, SearchHit } from "@/api/schema";
import { GeneratePanel } from "@/components/GeneratePanel";
import { Header } from "@/components/Header";
import { ImageDialog } from "@/components/ImageDialog";
import { LibraryView } from "@/components/LibraryView";
import { MaskEditor } from "@/components/MaskEditor";
import { Lightbox } from "@/components/Lightbox";
import { PromptBar } from "@/components/PromptBar";
import { QueryPanel } from "@/components/QueryPanel";
import { RagPanel } from "@/components/RagPanel";
import { ResultsGrid } from "@/components/ResultsGrid";
import { VIEWS } from "@/components/ScoreBars";
import { SketchCanvas } from "@/components/SketchCanvas";
import { StoryPanel } from "@/components/story/StoryPanel";
import { Tabs, TabsContent, TabsList, TabsTrigger } from "@/components/ui/tabs";
import { TooltipProvider } from "@/components/ui/tooltip";
import { useInfo } from "@/hooks/useInfo";
import { useJobs } from "@/hooks/useJobs";
import { useSearch } from "@/hooks/useSearch";
import { fileToQueryDataUrl, urlToQueryDataUrl } from "@/lib/images";
import { cn } from "@/lib/utils";
import {
  buildSearchRequest,
  initialQuery,
  presetsFromInfo,
  toggleExample,
  weightsEqual,
  type QueryState,
  type WeightKey,
} from "@/state/query";
import { startEdit, type EditBase, type EditState } from "@/state/edit";
import { refsReducer, type RefSource } from "@/state/refs";
import type { StorySource } from "@/state/story";

export function App() {
  const { info, error: infoError, retry: retryInfo } = useInfo();
  const [query, setQuery] = useState<QueryState>(initialQuery);
  // The presets and the starting sliders follow the server's defaults (/info), which give 0 to
  // views without signal; sliders the user already moved are left alone.
  const infoDefaults = info?.defaults;
  const presets = useMemo(() => presetsFromInfo(infoDefaults), [infoDefaults]);
  useEffect(() => {
    setQuery((q) =>
      weightsEqual(q.weights, initialQuery.weights) ? { ...q, weights: { ...presets.balanced.weights } } : q,
    );
  }, [presets]);
  const [sketch, setSketch] = useState<string | null>(null);
  const [exampleImage, setExampleImage] = useState<string | null>(null);
  const [exampleError, setExampleError] = useState<string | null>(null);
  const [underlay, setUnderlay] = useState<string | null>(null);
  const [refs, dispatchRefs] = useReducer(refsReducer, []);
  // "Edit this image": the base under the mask layer, which stands in for the sketch canvas.
  const [edit, setEdit] = useState<EditState | null>(null);
  const [editKey, bumpEditKey] = useReducer((n: number) => n + 1, 0);
  const [open, setOpen] = useState<SearchHit | null>(null);
  const [tab, setTab] = useState("query");
  const [view, setView] = useState<"sketch" | "library">("sketch");
  const [libraryMounted, setLibraryMounted] = useState(false);
  const [openUrl, setOpenUrl] = useState<string | null>(null);
  const [authVersion, bumpAuth] = useReducer((n: number) => n + 1, 0);
  const jobs = useJobs();
  const ragJobs = useJobs<ComplementaryResult>();
  const [storySource, setStorySource] = useState<StorySource | null>(null);
  const [storyAsk, askStory] = useReducer((n: number) => n + 1, 0);
  const showView = (v: "sketch" | "library") => {
    setView(v);
    if (v === "library") setLibraryMounted(true);
  };
  const addComplementaryRefs = useCallback((result: ComplementaryResult) => {
    for (const r of result.refs) dispatchRefs({ type: "add", source: { kind: "library", id: r.id, thumbUrl: r.thumbUrl }, role: r.role, weight: r.weight });
    setTab("generate");
  }, []);

  const build = useMemo(() => buildSearchRequest(query, { sketch, image: exampleImage }), [query, sketch, exampleImage]);
  const { state: results, searchNow, loadMore, retryMore, pending } = useSearch(build);

  const onLoadMore = useCallback(() => void loadMore(), [loadMore]);
  const hasText = query.text.trim().length > 0;
  const hasExamples = query.positiveIds.length > 0;
  const active: Record<WeightKey, boolean> = {
    wImg: hasExamples || hasText || exampleImage !== null,
    wEdge: hasExamples || sketch !== null || exampleImage !== null,
    wShape: hasExamples || sketch !== null || exampleImage !== null,
    wTxt: hasExamples || hasText,
    wTags: hasExamples || hasText,
  };

  const loadExample = useCallback(async (load: () => Promise<string>) => {
    setExampleError(null);
    try {
      setExampleImage(await load());
    } catch (e) {
      setExampleError(e instanceof Error ? e.message : String(e));
    }
  }, []);
  const onImageFile = useCallback((f: File) => void loadExample(() => fileToQueryDataUrl(f)), [loadExample]);
  const onImageUrl = useCallback((url: string) => void loadExample(() => urlToQueryDataUrl(url)), [loadExample]);
  const startEditing = useCallback((base: EditBase) => {
    setEdit(startEdit(base));
    bumpEditKey(); // a fresh mask layer for each new base
    setView("sketch");
    setTab("generate");
  }, []);
  // A generated image lives on this server only, so it is sent inline, like an upload.
  const editUrl = useCallback(
    (url: string) =>
      void urlToQueryDataUrl(url).then(
        (image) => startEditing({ kind: "inline", image, label: "the generated image" }),
        (e: unknown) => setExampleError(e instanceof Error ? e.message : String(e)),
      ),
    [startEditing],
  );

  const refIds = useMemo(() => new Set(refs.flatMap((r) => (r.source.kind === "library" ? [r.source.id] : []))), [refs]);
  const libSource = (hit: SearchHit): RefSource => ({ kind: "library", id: hit.id, thumbUrl: hit.thumbUrl });

  const actions = {
    onOpen: useCallback((hit: SearchHit) => setOpen(hit), []),
    onMoreLike: useCallback((hit: SearchHit) => setQuery((q) => toggleExample(q, hit.id, "positive")), []),
    onNotLike: useCallback((hit: SearchHit) => setQuery((q) => toggleExample(q, hit.id, "negative")), []),
    onToggleRef: useCallback(
      (hit: SearchHit) => {
        if (refIds.has(hit.id)) dispatchRefs({ type: "remove", key: `lib:${hit.id}` });
        else dispatchRefs({ type: "add", source: libSource(hit) });
      },
      [refIds],
    ),
    onTrace: useCallback((hit: SearchHit) => setUnderlay(hit.imageUrl), []),
    onEdit: useCallback(
      (hit: SearchHit) => startEditing({ kind: "library", id: hit.id, imageUrl: hit.imageUrl, label: hit.tags.length ? hit.tags.slice(0, 3).join(", ") : "this image" }),
      [startEditing],
    ),
  };

  const weightsUsed = results.weights;
  const openRank = open ? results.hits.findIndex((h) => h.id === open.id) : -1;

  return (
    <TooltipProvider delayDuration={300}>
      <div className="flex min-h-full flex-col lg:h-full">
        <Header
          info={info}
          error={infoError}
          onRetry={retryInfo}
          onApiKeyChange={bumpAuth}
          nav={
            <Tabs value={view} onValueChange={(v) => showView(v as "sketch" | "library")}>
              <TabsList className="h-8 w-auto" aria-label="View">
                {/* No TabsContent here: each tab controls one of the <main>s below. */}
                <TabsTrigger value="sketch" className="py-0.5" aria-controls="view-sketch">
                  <PencilLine className="size-4" aria-hidden /> Sketch
                </TabsTrigger>
                <TabsTrigger value="library" className="py-0.5" aria-controls="view-library">
                  <Images className="size-4" aria-hidden /> Library
                </TabsTrigger>
              </TabsList>
            </Tabs>
          }
        />
        <main id="view-library" hidden={view !== "library"} className="flex flex-1 flex-col bg-muted lg:min-h-0">
          {libraryMounted && <LibraryView active={view === "library"} onChanged={retryInfo} onOpenImage={setOpenUrl} authVersion={authVersion} />}
        </main>
        <main
          id="view-sketch"
          hidden={view !== "sketch"}
          className="flex flex-1 flex-col md:grid md:grid-cols-[minmax(300px,360px)_minmax(0,1fr)] md:grid-rows-[auto_1fr] lg:min-h-0 lg:grid-cols-[minmax(320px,380px)_minmax(0,1fr)_320px] lg:grid-rows-1"
        >
          {/* DOM order is query → results → settings, so the first result is a few tab stops
              from the prompt; the grid places them (query and settings share the left column on
              tablets, results in the middle). On a phone the settings show before the results
              and a sticky chip points down to them. */}
        <aside aria-label="Query" className="flex flex-col gap-3 bg-background p-3 max-md:order-1 md:col-start-1 md:row-start-1 md:border-r lg:min-h-0 lg:overflow-y-auto">
          {edit && (
            <MaskEditor
              key={editKey}
              base={edit.base}
              onMaskChange={(mask) => setEdit((e) => e && { ...e, mask })}
              onLeave={() => setEdit(null)}
            />
          )}
          {/* Kept mounted while editing, so the sketch is there again after. */}
          <div hidden={edit !== null}>
            <SketchCanvas
              onChange={setSketch}
              underlayUrl={underlay}
              onClearUnderlay={() => setUnderlay(null)}
              onImageFile={onImageFile}
              onImageUrl={onImageUrl}
              shortcuts={edit === null}
            />
          </div>
          <PromptBar
            text={query.text}
            onText={(text) => setQuery((q) => ({ ...q, text }))}
            onSearch={searchNow}
            busy={pending}
            canSearch={build.kind === "request"}
            exampleImage={exampleImage}
            onClearExample={() => setExampleImage(null)}
            onPickFile={onImageFile}
            exampleError={exampleError}
            onEditExample={() => exampleImage && startEditing({ kind: "inline", image: exampleImage, label: "the uploaded image" })}
          />
        </aside>

        {/* Centre: results */}
        <section id="results" aria-label="Results" className="flex min-w-0 flex-col max-md:order-3 md:sticky md:top-0 md:col-start-2 md:row-span-2 md:row-start-1 md:max-h-screen md:overflow-y-auto lg:static lg:row-span-1 lg:max-h-none lg:min-h-0">
          <div className="sticky top-0 z-10 flex min-h-10 flex-wrap items-center gap-x-3 gap-y-1 border-b bg-muted/95 px-3 py-1.5 text-xs text-muted-foreground backdrop-blur">
            <span aria-live="polite" data-testid="results-summary">
              {results.status === "loading"
                ? "Searching…"
                : results.status === "error"
                  ? "Search failed"
                  : results.hits.length > 0
                    ? `${results.hits.length}${results.nextCursor ? "+" : ""} results`
                    : build.kind === "request" && pending
                      ? "Searching…"
                      : ""}
            </span>
            {weightsUsed && results.hits.length > 0 && (
              <span className="flex items-center gap-2" aria-label="Weights used by the server">
                {VIEWS.filter((v) => (weightsUsed[v.view] ?? 0) > 0).map((v) => (
                  <span key={v.view} className="flex items-center gap-1">
                    <span className={cn("size-2 rounded-full", v.bar)} aria-hidden />
                    {v.label} {(weightsUsed[v.view] ?? 0).toFixed(2)}
                  </span>
                ))}
              </span>
            )}
            {results.timings?.totalMs !== undefined && results.hits.length > 0 && (
              <span className="ml-auto tabular-nums">{Math.round(results.timings.totalMs)} ms</span>
            )}
          </div>
          {results.hits.length > 0 && <ResultsChip count={`${results.hits.length}${results.nextCursor ? "+" : ""}`} />}
          <div className="p-3">
            <ResultsGrid
              build={build}
              results={results}
              libraryEmpty={info?.points === 0}
              refIds={refIds}
              positiveIds={query.positiveIds}
              negativeIds={query.negativeIds}
              onLoadMore={onLoadMore}
              onRetry={searchNow}
              onRetryMore={retryMore}
              {...actions}
            />
          </div>
        </section>

        {/* Right (below the canvas on tablets and phones): settings and generation */}
        <aside aria-label="Settings and generation" className="border-t bg-background p-3 max-md:order-2 md:col-start-1 md:row-start-2 md:border-r lg:col-start-3 lg:row-start-1 lg:min-h-0 lg:overflow-y-auto lg:border-l lg:border-r-0 lg:border-t-0">
          <Tabs value={tab} onValueChange={setTab}>
            {/* Four tabs fit the 320 px column (lg) only without their icons. */}
            <TabsList className="lg:[&_svg]:hidden">
              <TabsTrigger value="query" className="px-2">
                <SlidersHorizontal className="size-4" aria-hidden /> Search
              </TabsTrigger>
              <TabsTrigger value="generate" className="px-2">
                <Sparkles className="size-4" aria-hidden /> Generate
                {refs.length > 0 && <span className="rounded-full bg-indigo-600 px-1.5 text-[10px] text-white">{refs.length}</span>}
              </TabsTrigger>
              <TabsTrigger value="rag" className="px-2">
                <Network className="size-4" aria-hidden /> RAG
              </TabsTrigger>
              <TabsTrigger value="story" className="px-2">
                <BookOpen className="size-4" aria-hidden /> Story
              </TabsTrigger>
            </TabsList>
            <TabsContent value="query" className="pt-2">
              <QueryPanel query={query} onChange={setQuery} active={active} presets={presets} />
            </TabsContent>
            <TabsContent value="generate" className="pt-2" forceMount hidden={tab !== "generate"}>
              <GeneratePanel
                info={info}
                refs={refs}
                dispatchRefs={dispatchRefs}
                sketch={edit ? null : sketch}
                exampleImage={exampleImage}
                defaultPrompt={query.text}
                jobs={jobs.entries}
                onSubmit={(req) => void jobs.submit(req)}
                onCancel={(k, id) => void jobs.cancel(k, id)}
                onDismiss={jobs.dismiss}
                onUseAsQuery={onImageUrl}
                onUseAsUnderlay={setUnderlay}
                edit={edit}
                onEditChange={setEdit}
                onLeaveEdit={() => setEdit(null)}
                onEditImage={editUrl}
                onUseAsRef={(url) =>
                  void urlToQueryDataUrl(url).then((image) => dispatchRefs({ type: "add", source: { kind: "inline", image, label: "Generated" } }))
                }
              />
            </TabsContent>
            <TabsContent value="rag" className="pt-2" forceMount hidden={tab !== "rag"}>
              <RagPanel
                defaultPrompt={query.text}
                jobs={ragJobs.entries}
                onSubmit={(req, result) => void ragJobs.submit(req, result)}
                onCancel={(k, id) => void ragJobs.cancel(k, id)}
                onDismiss={ragJobs.dismiss}
                onUseRefs={addComplementaryRefs}
                onOpenImage={setOpenUrl}
              />
            </TabsContent>
            <TabsContent value="story" className="pt-2" forceMount hidden={tab !== "story"}>
              <StoryPanel
                info={info}
                source={storySource}
                onSource={setStorySource}
                ask={storyAsk}
                onEditFrame={(f) => (f.id ? startEditing({ kind: "library", id: f.id, imageUrl: f.url, label: `frame ${f.index + 1}` }) : editUrl(f.url))}
                onUseFrameAsRef={(f) =>
                  f.id
                    ? dispatchRefs({ type: "add", source: { kind: "library", id: f.id, thumbUrl: `/thumb/${encodeURIComponent(f.id)}` } })
                    : void urlToQueryDataUrl(f.url).then((image) => dispatchRefs({ type: "add", source: { kind: "inline", image, label: `Frame ${f.index + 1}` } }))
                }
                onOpenImage={setOpenUrl}
              />
            </TabsContent>
          </Tabs>
        </aside>
        </main>
        <ImageDialog url={openUrl} onClose={() => setOpenUrl(null)} />
        <Lightbox
          hit={open}
          rank={openRank >= 0 ? openRank + 1 : null}
          isRef={open ? refIds.has(open.id) : false}
          onClose={() => setOpen(null)}
          {...actions}
          onTrace={(hit) => {
            actions.onTrace(hit);
            setOpen(null);
          }}
          onEdit={(hit) => {
            actions.onEdit(hit);
            setOpen(null);
          }}
          onStory={(hit) => {
            setStorySource({ kind: "library", id: hit.id, imageUrl: hit.imageUrl, label: hit.tags.length ? hit.tags.slice(0, 3).join(", ") : "this image" });
            askStory();
            setTab("story");
            setOpen(null);
          }}
          onSearchBy={(hit) => {
            onImageUrl(hit.imageUrl);
            setOpen(null);
          }}
          onTagFilter={(tag) => {
            setQuery((q) => (q.tagsInclude.includes(tag) ? q : { ...q, tagsInclude: [...q.tagsInclude, tag] }));
            setOpen(null);
          }}
        />
      </div>
    </TooltipProvider>
  );
}

/**
 * On a phone the results start below the canvas and the settings: while they are out of
 * sight, a sticky chip says a search ran and jumps to them (to the first card, focused).
 */
function ResultsChip({ count }: { count: string }) {
  const [inView, setInView] = useState(false);
  useEffect(() => {
    const el = document.getElementById("results");
    if (!el) return;
    const io = new IntersectionObserver((entries) => setInView(entries.some((e) => e.isIntersecting)));
    io.observe(el);
    return () => io.disconnect();
  }, []);
  if (inView) return null;
  return (
    <button
      type="button"
      data-testid="results-chip"
      className="fixed bottom-4 left-1/2 z-20 min-h-11 -translate-x-1/2 cursor-pointer rounded-full bg-primary px-4 text-sm font-medium text-primary-foreground shadow-lg md:hidden"
      onClick={() => {
        const results = document.getElementById("results");
        results?.scrollIntoView({ block: "start" });
        results?.querySelector<HTMLElement>("[data-roving][tabindex='0']")?.focus({ preventScroll: true });
      }}
    >
      {count} results ↓
    </button>
  );
}
