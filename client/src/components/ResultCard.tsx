import { ImagePlus, Layers, PenTool, ThumbsDown, ThumbsUp } from "lucide-react";
import { memo, type DragEvent } from "react";
import type { SearchHit } from "@/api/schema";
import { AuthImage } from "@/components/AuthImage";
import { Button } from "@/components/ui/button";
import { Tooltip } from "@/components/ui/tooltip";
import { cn } from "@/lib/utils";
import type { AtlasThumb } from "@/state/atlas";
import { ScoreBars } from "./ScoreBars";

export interface HitActions {
  onOpen: (hit: SearchHit) => void;
  onMoreLike: (hit: SearchHit) => void;
  onNotLike: (hit: SearchHit) => void;
  onToggleRef: (hit: SearchHit) => void;
  onTrace: (hit: SearchHit) => void;
  /** "Edit this image": it becomes the base under the mask layer. */
  onEdit: (hit: SearchHit) => void;
}

export interface ResultCardProps extends HitActions {
  hit: SearchHit;
  rank: number;
  /** The grid's one tab stop (a roving tabindex); the others are reached with the arrow keys. */
  tabbable?: boolean;
  isRef: boolean;
  mark: "positive" | "negative" | null;
  /** How many near-identical hits right after this one are folded under it. */
  similar?: number;
  similarShown?: boolean;
  onToggleSimilar?: (id: string) => void;
  /** From the page's sprite atlas: a sprite, pending (an empty tile for a moment), or null (its own image). */
  thumb?: AtlasThumb;
}

function hitLabel(hit: SearchHit): string {
  return hit.tags.length ? hit.tags.slice(0, 6).join(", ") : (hit.path ?? hit.id);
}

export const ResultCard = memo(function ResultCard({ hit, rank, tabbable = true, similar = 0, similarShown = false, onToggleSimilar, isRef, mark, thumb = null, onOpen, onMoreLike, onNotLike, onToggleRef, onTrace, onEdit }: ResultCardProps) {
  const sprite = thumb?.kind === "sprite" ? thumb : null;
  // Without the hit's size the sprite's own shape is the best guess (a square would crop it).
  const ratio = hit.width && hit.height ? `${hit.width} / ${hit.height}` : sprite ? sprite.style.aspectRatio : "1 / 1";
  const label = hitLabel(hit);
  const similarText = similar > 0 ? (similarShown ? `hide ${similar} similar` : `+${similar} similar`) : null;
  const name = `Result ${rank}: ${label}, score ${hit.score.toFixed(2)}${similar > 0 ? `, ${similar} near-identical hit${similar > 1 ? "s" : ""} ${similarShown ? "shown" : "folded"} below` : ""}`;
  const onDragStart = (e: DragEvent<HTMLElement>) => {
    e.dataTransfer.setData("application/x-clippy-image", hit.imageUrl);
    e.dataTransfer.setData("text/uri-list", new URL(hit.imageUrl, location.href).href);
  };
  const zoom = "transition-transform duration-200 group-hover:scale-[1.04]";
  return (
    <article
      data-testid="result"
      data-id={hit.id}
      className={cn("group relative flex flex-col gap-1.5 rounded-lg border bg-background p-1.5 shadow-xs transition-shadow hover:shadow-md", isRef && "ring-2 ring-indigo-500")}
      aria-label={name}
    >
      <button
        type="button"
        className={cn(
          "relative block cursor-zoom-in overflow-hidden rounded-md bg-muted focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring",
          sprite && "flex items-center",
        )}
        style={{ aspectRatio: ratio }}
        onClick={() => onOpen(hit)}
        aria-label={`Open ${name}`}
        aria-keyshortcuts={similar > 0 ? "M N R T E S" : "M N R T E"}
        data-roving=""
        tabIndex={tabbable ? 0 : -1}
        onKeyDown={(e) => {
          // The card's actions from the keyboard, without a tab stop each (see the tooltips).
          if (e.altKey || e.ctrlKey || e.metaKey) return;
          const k = e.key.toLowerCase();
          const act =
            k === "m" ? onMoreLike : k === "n" ? onNotLike : k === "r" ? onToggleRef : k === "t" ? onTrace : k === "e" ? onEdit : k === "s" && similar > 0 && onToggleSimilar ? (h: SearchHit) => onToggleSimilar(h.id) : null;
          if (!act) return;
          e.preventDefault();
          e.stopPropagation();
          act(hit);
        }}
        draggable={false}
      >
        {sprite ? (
          // Percent sizes (state/sprite.ts) scale the sprite with the card; its own aspect
          // ratio keeps it undistorted should the hit's size and the sprite's disagree.
          <span
            role="img"
            aria-label={label}
            data-atlas-sprite=""
            draggable
            onDragStart={onDragStart}
            className={cn(zoom, "block w-full shrink-0 bg-no-repeat")}
            style={{ backgroundImage: `url("${sprite.src}")`, ...sprite.style }}
          />
        ) : thumb?.kind === "pending" ? null : (
          <AuthImage
            src={hit.thumbUrl}
            alt={label}
            loading="lazy"
            decoding="async"
            draggable
            onDragStart={onDragStart}
            className={cn(zoom, "size-full object-contain")}
          />
        )}
        <span className="absolute left-1 top-1 rounded bg-black/60 px-1 text-[10px] font-medium tabular-nums text-white">{rank}</span>
        {mark && (
          <span className={cn("absolute bottom-1 left-1 rounded-full p-0.5 text-white", mark === "positive" ? "bg-emerald-600" : "bg-red-600")}>
            {mark === "positive" ? <ThumbsUp className="size-3" /> : <ThumbsDown className="size-3" />}
          </span>
        )}
      </button>
      <div className="absolute right-2.5 top-2.5 flex flex-row gap-1 opacity-0 transition-opacity group-focus-within:opacity-100 group-hover:opacity-100 [@media(hover:none)]:opacity-100">
        <Tooltip content="More like this (M)" side="left">
          <Button size="icon-sm" variant="secondary" className="size-7 shadow" tabIndex={-1} aria-label="More like this" aria-pressed={mark === "positive"} onClick={() => onMoreLike(hit)}>
            <ThumbsUp />
          </Button>
        </Tooltip>
        <Tooltip content="Not like this (N)" side="left">
          <Button size="icon-sm" variant="secondary" className="size-7 shadow" tabIndex={-1} aria-label="Not like this" aria-pressed={mark === "negative"} onClick={() => onNotLike(hit)}>
            <ThumbsDown />
          </Button>
        </Tooltip>
        <Tooltip content={isRef ? "Remove from references" : "Use as reference for generation (R)"} side="left">
          <Button
            size="icon-sm"
            variant={isRef ? "default" : "secondary"}
            className="size-7 shadow" tabIndex={-1}
            aria-label={isRef ? "Remove reference" : "Use as reference"}
            aria-pressed={isRef}
            onClick={() => onToggleRef(hit)}
          >
            <ImagePlus />
          </Button>
        </Tooltip>
        <Tooltip content="Trace over it on the canvas (T)" side="left">
          <Button size="icon-sm" variant="secondary" className="size-7 shadow" tabIndex={-1} aria-label="Trace over this" onClick={() => onTrace(hit)}>
            <Layers />
          </Button>
        </Tooltip>
        <Tooltip content="Edit this image: paint a mask over it (E)" side="left">
          <Button size="icon-sm" variant="secondary" className="size-7 shadow" tabIndex={-1} aria-label="Edit this image" onClick={() => onEdit(hit)}>
            <PenTool />
          </Button>
        </Tooltip>
      </div>
      <ScoreBars hit={hit} />
      {similarText && onToggleSimilar && (
        <button
          type="button"
          tabIndex={-1}
          data-testid="similar-toggle"
          className="cursor-pointer self-start rounded px-1 text-[11px] text-muted-foreground underline-offset-2 hover:underline"
          onClick={() => onToggleSimilar(hit.id)}
          aria-expanded={similarShown}
        >
          {similarText}
        </button>
      )}
    </article>
  );
});
