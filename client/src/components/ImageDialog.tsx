import { AuthImage } from "@/components/AuthImage";
import { Dialog, DialogContent, DialogTitle } from "@/components/ui/dialog";

/** The original of a library image, full size. */
export function ImageDialog({ url, onClose }: { url: string | null; onClose: () => void }) {
  return (
    <Dialog open={url !== null} onOpenChange={(o) => !o && onClose()}>
      <DialogContent className="w-auto max-w-[96vw]" data-testid="image-dialog" aria-describedby={undefined}>
        <DialogTitle className="sr-only">Image</DialogTitle>
        {url && <AuthImage src={url} alt="Library image" className="max-h-[84vh] max-w-full rounded object-contain" />}
      </DialogContent>
    </Dialog>
  );
}
