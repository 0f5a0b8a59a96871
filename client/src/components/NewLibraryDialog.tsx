import { AlertTriangle, Loader2, Plus } from "lucide-react";
import { useId, useState } from "react";
import { api } from "@/api/client";
import type { LibraryInfo, LibraryVisibility } from "@/api/schema";
import { Button } from "@/components/ui/button";
import { Dialog, DialogContent, DialogDescription, DialogTitle } from "@/components/ui/dialog";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { describeError } from "@/state/errors";
import { newLibraryProblem, type LibraryOption } from "@/state/libraries";

export interface NewLibraryDialogProps {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  /** Known libraries, to refuse a taken name before asking the server. */
  options: readonly LibraryOption[];
  onCreated: (library: LibraryInfo) => void;
}

/** POST /libraries: a name and private/public; the server's refusal is shown as it said it. */
export function NewLibraryDialog({ open, onOpenChange, options, onCreated }: NewLibraryDialogProps) {
  const ids = { name: useId(), visibility: useId() };
  const [name, setName] = useState("");
  const [visibility, setVisibility] = useState<LibraryVisibility>("private");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const problem = name ? newLibraryProblem(name, options) : null;
  const failed = error !== null ? describeError(error) : null;

  const close = (o: boolean) => {
    if (!o) {
      setName("");
      setError(null);
    }
    onOpenChange(o);
  };

  const create = async () => {
    if (busy || newLibraryProblem(name, options)) return;
    setBusy(true);
    setError(null);
    try {
      const created = await api.createLibrary(name.trim(), visibility);
      onCreated(created);
      close(false);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog open={open} onOpenChange={close}>
      <DialogContent className="w-[min(92vw,420px)]" data-testid="new-library-dialog">
        <DialogTitle>New library</DialogTitle>
        <DialogDescription>Private: only your key&apos;s owner reads it. Public: every key may read it; only the owner writes.</DialogDescription>
        <form
          className="flex flex-col gap-3"
          onSubmit={(e) => {
            e.preventDefault();
            void create();
          }}
        >
          <div className="flex flex-col gap-1.5">
            <Label htmlFor={ids.name}>Library name</Label>
            <Input id={ids.name} value={name} onChange={(e) => setName(e.target.value)} aria-invalid={!!problem} disabled={busy} autoFocus />
            {problem && <span className="text-[11px] text-red-700">{problem}</span>}
          </div>
          <div className="flex flex-col gap-1.5">
            <Label htmlFor={ids.visibility}>Visibility</Label>
            <select
              id={ids.visibility}
              value={visibility}
              disabled={busy}
              onChange={(e) => setVisibility(e.target.value as LibraryVisibility)}
              className="h-9 rounded-md border border-input bg-background px-2 text-sm focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring"
            >
              <option value="private">Private</option>
              <option value="public">Public</option>
            </select>
          </div>
          {failed && (
            <p role="alert" className="flex items-center gap-2 rounded-md border border-red-200 bg-red-50 p-2 text-sm text-red-800">
              <AlertTriangle className="size-4 shrink-0" aria-hidden />
              <span>
                <b>{failed.title}:</b> {failed.message}
              </span>
            </p>
          )}
          <div className="flex justify-end gap-2">
            <Button variant="outline" onClick={() => close(false)} disabled={busy}>
              Cancel
            </Button>
            <Button type="submit" disabled={busy || !name.trim() || !!problem}>
              {busy ? <Loader2 className="animate-spin" /> : <Plus />} Create library
            </Button>
          </div>
        </form>
      </DialogContent>
    </Dialog>
  );
}
