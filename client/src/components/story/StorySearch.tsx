import { Search } from "lucide-react";
import { useEffect, useRef, useState } from "react";
import { api, isAbort } from "@/api/client";
import type { StoryHit } from "@/api/schema";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { describeError } from "@/state/errors";

export interface StorySearchProps {
  onPick: (hit: StoryHit) => void;
}

type Found = { state: "idle" } | { state: "loading" } | { state: "done"; hits: StoryHit[] } | { state: "error"; message: string };

const LIMIT = 10;

/** Past stories by meaning (GET /stories?query=); picking one opens it for a storyboard. */
export function StorySearch({ onPick }: StorySearchProps) {
  const [query, setQuery] = useState("");
  const [found, setFound] = useState<Found>({ state: "idle" });
  const inflight = useRef<AbortController | null>(null);
  useEffect(() => () => inflight.current?.abort(), []);
  const search = () => {
    const q = query.trim();
    if (!q) return;
    inflight.current?.abort();
    const ctl = new AbortController();
    inflight.current = ctl;
    setFound({ state: "loading" });
    api.searchStories({ query: q, limit: LIMIT }, ctl.signal).then(
      (r) => setFound({ state: "done", hits: r.hits }),
      (e: unknown) => {
        if (!isAbort(e)) setFound({ state: "error", message: describeError(e).message });
      },
    );
  };
  return (
    <section className="flex flex-col gap-1.5" aria-label="Past stories">
      <form
        role="search"
        className="flex gap-1"
        onSubmit={(e) => {
          e.preventDefault();
          search();
        }}
      >
        <Input value={query} onChange={(e) => setQuery(e.target.value)} placeholder="Find a past story…" aria-label="Search past stories" maxLength={500} className="h-8" />
        <Button type="submit" size="sm" variant="outline" disabled={!query.trim()} aria-label="Search stories">
          <Search />
        </Button>
      </form>
      <p aria-live="polite" className="text-xs text-muted-foreground">
        {found.state === "loading" ? "Searching…" : found.state === "error" ? found.message : found.state === "done" && !found.hits.length ? "No stories match." : ""}
      </p>
      {found.state === "done" && found.hits.length > 0 && (
        <ul className="flex flex-col gap-1" data-testid="story-hits">
          {found.hits.map((hit) => (
            <li key={hit.id}>
              <button type="button" className="w-full rounded border p-1.5 text-left text-xs hover:bg-muted focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring" onClick={() => onPick(hit)}>
                <span className="font-medium">{hit.story.title || "Untitled"}</span>
                <span className="ml-1 tabular-nums text-muted-foreground">{hit.score.toFixed(2)}</span>
                <span className="line-clamp-2 block text-muted-foreground">{hit.story.paragraphs?.[0] ?? ""}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
