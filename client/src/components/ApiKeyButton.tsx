import { KeyRound } from "lucide-react";
import { useId, useState } from "react";
import { Button } from "@/components/ui/button";
import { Dialog, DialogContent, DialogDescription, DialogTitle } from "@/components/ui/dialog";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { maskApiKey, readApiKey, writeApiKey } from "@/state/apiKey";

/** The optional API key (sent as `x-api-key`), kept in this browser; `onChanged` reloads what depends on it. */
export function ApiKeyButton({ onChanged }: { onChanged: () => void }) {
  const id = useId();
  const [open, setOpen] = useState(false);
  const [current, setCurrent] = useState<string | null>(() => readApiKey());
  const [draft, setDraft] = useState("");

  const save = (value: string | null) => {
    setCurrent(writeApiKey(value));
    setDraft("");
    setOpen(false);
    onChanged();
  };

  return (
    <>
      <Button
        size="sm"
        variant={current ? "outline" : "ghost"}
        aria-label={current ? `API key settings (key ${maskApiKey(current)} in use)` : "API key settings"}
        data-testid="api-key-button"
        onClick={() => {
          setDraft(current ?? "");
          setOpen(true);
        }}
      >
        {/* On a phone the icon alone: the button keeps its aria-label and its 44 px target. */}
        <KeyRound aria-hidden /> <span className="max-sm:hidden">{current ? "Key set" : "API key"}</span>
      </Button>
      <Dialog open={open} onOpenChange={setOpen}>
        <DialogContent className="w-[min(92vw,420px)]" data-testid="api-key-dialog">
          <DialogTitle>API key</DialogTitle>
          <DialogDescription>Needed only when the server has API_KEYS set. It is kept in this browser and sent as the x-api-key header.</DialogDescription>
          <form
            className="flex flex-col gap-2"
            onSubmit={(e) => {
              e.preventDefault();
              save(draft);
            }}
          >
            <Label htmlFor={id}>API key</Label>
            <Input id={id} type="password" autoComplete="off" spellCheck={false} value={draft} onChange={(e) => setDraft(e.target.value)} placeholder="none" />
            <div className="flex justify-end gap-2 pt-1">
              {current && (
                <Button variant="outline" onClick={() => save(null)}>
                  Forget the key
                </Button>
              )}
              <Button type="submit">Save key</Button>
            </div>
          </form>
        </DialogContent>
      </Dialog>
    </>
  );
}
