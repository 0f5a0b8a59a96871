import { ImageUp, X } from "lucide-react";
import { useId, useState } from "react";
import { AuthImage } from "@/components/AuthImage";
import { Button } from "@/components/ui/button";
import { fileToQueryDataUrl, firstImageFile } from "@/lib/images";
import { cn } from "@/lib/utils";
import { baseSrc } from "@/state/edit";
import type { StorySource } from "@/state/story";

export interface StorySourcePickerProps {
  source: StorySource | null;
  onSource: (source: StorySource | null) => void;
}

/** Drop or pick the picture a story is told about; shows the one chosen. */
export function StorySourcePicker({ source, onSource }: StorySourcePickerProps) {
  const inputId = useId();
  const [over, setOver] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const take = (file: File | null) => {
    if (!file) return;
    setError(null);
    fileToQueryDataUrl(file).then(
      (image) => onSource({ kind: "inline", image, label: file.name }),
      (e: unknown) => setError(e instanceof Error ? e.message : String(e)),
    );
  };
  return (
    <div className="flex flex-col gap-1.5">
      <label
        htmlFor={inputId}
        data-testid="story-drop"
        className={cn(
          "flex min-h-28 cursor-pointer items-center justify-center gap-2 rounded-md border border-dashed p-2 text-xs text-muted-foreground focus-within:ring-2 focus-within:ring-ring",
          over && "border-primary bg-primary/5",
        )}
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault();
          setOver(false);
          take(firstImageFile(e.dataTransfer));
        }}
      >
        {source ? (
          <AuthImage src={baseSrc(source)} alt={`Story picture: ${source.label}`} className="max-h-40 w-auto rounded object-contain" data-testid="story-source" />
        ) : (
          <>
            <ImageUp className="size-5" aria-hidden /> Drop a picture, or pick one
          </>
        )}
        <input
          id={inputId}
          type="file"
          accept="image/png,image/jpeg,image/webp"
          className="sr-only"
          aria-label="Picture for the story"
          onChange={(e) => {
            take(e.target.files?.[0] ?? null);
            e.target.value = "";
          }}
        />
      </label>
      {source && (
        <div className="flex items-center gap-1 text-xs text-muted-foreground">
          <span className="flex-1 truncate">{source.label}</span>
          <Button size="icon-sm" variant="ghost" className="size-6" aria-label="Clear the story picture" onClick={() => onSource(null)}>
            <X />
          </Button>
        </div>
      )}
      {error && (
        <p role="alert" className="text-xs text-red-700">
          {error}
        </p>
      )}
    </div>
  );
}
