import { ImageIcon, Loader2, PenTool, Search, X } from "lucide-react";
import { useId } from "react";
import { AuthImage } from "@/components/AuthImage";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";

export interface PromptBarProps {
  text: string;
  onText: (t: string) => void;
  onSearch: () => void;
  busy: boolean;
  canSearch: boolean;
  exampleImage: string | null;
  onClearExample: () => void;
  onPickFile: (f: File) => void;
  exampleError: string | null;
  /** "Edit this image" for the uploaded example: it becomes the base under the mask layer. */
  onEditExample: () => void;
}

export function PromptBar({ text, onText, onSearch, busy, canSearch, exampleImage, onClearExample, onPickFile, exampleError, onEditExample }: PromptBarProps) {
  const id = useId();
  const fileId = useId();
  return (
    <div className="flex flex-col gap-2">
      <Label htmlFor={id} className="sr-only">
        Text prompt
      </Label>
      <div className="flex gap-1.5">
        <Input
          id={id}
          type="search"
          value={text}
          placeholder="Describe it: a cat in pop art style"
          onChange={(e) => onText(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter") {
              e.preventDefault();
              onSearch();
            }
          }}
        />
        <Button onClick={onSearch} disabled={!canSearch} aria-label="Search now">
          {busy ? <Loader2 className="animate-spin" /> : <Search />}
          <span className="hidden sm:inline">Search</span>
        </Button>
      </div>
      <div className="flex items-center gap-2 text-xs text-muted-foreground">
        {exampleImage ? (
          <div className="flex items-center gap-2" data-testid="example-image">
            <AuthImage src={exampleImage} alt="Example image for the query" className="size-10 rounded border object-cover" />
            <span>Searching by this example image too</span>
            <Button size="sm" variant="outline" className="h-6 px-2" onClick={onEditExample}>
              <PenTool /> Edit this image
            </Button>
            <Button size="icon-sm" variant="ghost" className="size-6" aria-label="Remove example image" onClick={onClearExample}>
              <X />
            </Button>
          </div>
        ) : (
          <>
            <ImageIcon className="size-3.5" aria-hidden />
            <span>
              Drop or paste an image on the canvas, or{" "}
              <label htmlFor={fileId} className="cursor-pointer text-foreground underline underline-offset-2">
                choose a file
              </label>
              , to search by example.
            </span>
            <input
              id={fileId}
              type="file"
              accept="image/*"
              className="sr-only"
              onChange={(e) => {
                const f = e.target.files?.[0];
                if (f) onPickFile(f);
                e.target.value = "";
              }}
            />
          </>
        )}
      </div>
      {exampleError && (
        <p role="alert" className="text-xs text-red-700">
          {exampleError}
        </p>
      )}
    </div>
  );
}
