import { BookOpen, Download, ExternalLink, ImagePlus, Layers, PenTool, Search, ThumbsDown, ThumbsUp } from "lucide-react";
import type { SearchHit } from "@/api/schema";
import { AuthImage } from "@/components/AuthImage";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Dialog, DialogContent, DialogDescription, DialogTitle } from "@/components/ui/dialog";
import type { HitActions } from "./ResultCard";
import { ScoreBars } from "./ScoreBars";

export interface LightboxProps extends Omit<HitActions, "onOpen"> {
  hit: SearchHit | null;
  rank: number | null;
  isRef: boolean;
  onClose: () => void;
  onSearchBy: (hit: SearchHit) => void;
  /** "Make a story" about this image (the Story tab). */
  onStory?: (hit: SearchHit) => void;
  onTagFilter: (tag: string) => void;
}

export function Lightbox({ hit, rank, isRef, onClose, onMoreLike, onNotLike, onToggleRef, onTrace, onEdit, onSearchBy, onStory, onTagFilter }: LightboxProps) {
  return (
    <Dialog open={hit !== null} onOpenChange={(open) => !open && onClose()}>
      <DialogContent aria-describedby={hit ? "lightbox-desc" : undefined}>
        {hit && (
          <div className="grid gap-4 md:grid-cols-[minmax(0,1fr)_340px]" data-testid="lightbox">
            <div className="flex min-h-0 items-center justify-center rounded-md bg-[repeating-conic-gradient(#f4f4f5_0%_25%,#fff_0%_50%)] bg-[length:20px_20px]">
              <AuthImage src={hit.imageUrl} alt={hit.tags.join(", ") || (hit.path ?? hit.id)} className="max-h-[80vh] min-h-[40vh] w-auto max-w-full object-contain" />
            </div>
            <div className="flex flex-col gap-3">
              <DialogTitle className="pr-8 break-all">{hit.path ?? hit.id}</DialogTitle>
              <DialogDescription id="lightbox-desc">
                {rank !== null && <>Rank {rank} · </>}
                {hit.width && hit.height ? `${hit.width}×${hit.height}` : "size unknown"}
                {hit.source && <> · {hit.source}</>}
              </DialogDescription>
              {hit.tags.length > 0 && (
                <ul className="flex flex-wrap gap-1" aria-label="Tags">
                  {hit.tags.map((t) => (
                    <li key={t}>
                      <button type="button" className="cursor-pointer" onClick={() => onTagFilter(t)} title={`Only show images tagged “${t}”`}>
                        <Badge variant="outline" className="hover:bg-muted">
                          {t}
                        </Badge>
                      </button>
                    </li>
                  ))}
                </ul>
              )}
              <ScoreBars hit={hit} large />
              <div className="grid grid-cols-2 gap-1.5">
                <Button size="sm" variant="outline" onClick={() => onMoreLike(hit)}>
                  <ThumbsUp /> More like this
                </Button>
                <Button size="sm" variant="outline" onClick={() => onNotLike(hit)}>
                  <ThumbsDown /> Not like this
                </Button>
                <Button size="sm" variant={isRef ? "default" : "outline"} onClick={() => onToggleRef(hit)}>
                  <ImagePlus /> {isRef ? "Remove reference" : "Use as reference"}
                </Button>
                <Button size="sm" variant="outline" onClick={() => onTrace(hit)}>
                  <Layers /> Trace over
                </Button>
                <Button size="sm" variant="outline" onClick={() => onSearchBy(hit)}>
                  <Search /> Search by image
                </Button>
                <Button size="sm" variant="outline" onClick={() => onEdit(hit)}>
                  <PenTool /> Edit this image
                </Button>
                {onStory && (
                  <Button size="sm" variant="outline" onClick={() => onStory(hit)}>
                    <BookOpen /> Make a story
                  </Button>
                )}
                <Button size="sm" variant="outline" asChild>
                  <a href={hit.imageUrl} download>
                    <Download /> Download
                  </a>
                </Button>
              </div>
              <a href={hit.imageUrl} target="_blank" rel="noreferrer" className="inline-flex items-center gap-1 text-xs text-muted-foreground hover:underline">
                <ExternalLink className="size-3" /> Open original
              </a>
              <code className="break-all text-[10px] text-muted-foreground">{hit.id}</code>
            </div>
          </div>
        )}
      </DialogContent>
    </Dialog>
  );
}
