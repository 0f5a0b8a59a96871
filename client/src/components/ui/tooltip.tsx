import { Tooltip as TooltipPrimitive } from "radix-ui";
import * as React from "react";
import { cn } from "@/lib/utils";

/**
 * Which tooltip is open: one at a time. Radix closes a tooltip on blur, but tabbing along a
 * row of triggers left several open and stacked; the provider keeps the one that opened last.
 */
const OpenTooltip = React.createContext<{ open: string | null; setOpen: (id: string | null) => void } | null>(null);

function TooltipProvider({ children, ...props }: React.ComponentProps<typeof TooltipPrimitive.Provider>) {
  const [open, setOpen] = React.useState<string | null>(null);
  const value = React.useMemo(() => ({ open, setOpen }), [open]);
  return (
    <TooltipPrimitive.Provider {...props}>
      <OpenTooltip.Provider value={value}>{children}</OpenTooltip.Provider>
    </TooltipPrimitive.Provider>
  );
}

function Tooltip({ children, content, side = "top" }: { children: React.ReactNode; content: React.ReactNode; side?: "top" | "bottom" | "left" | "right" }) {
  const id = React.useId();
  const shared = React.useContext(OpenTooltip);
  const [own, setOwn] = React.useState(false);
  const open = shared ? shared.open === id : own;
  const onOpenChange = (next: boolean) => {
    if (shared) shared.setOpen(next ? id : shared.open === id ? null : shared.open);
    else setOwn(next);
  };
  return (
    <TooltipPrimitive.Root open={open} onOpenChange={onOpenChange}>
      <TooltipPrimitive.Trigger asChild>{children}</TooltipPrimitive.Trigger>
      <TooltipPrimitive.Portal>
        <TooltipPrimitive.Content
          side={side}
          sideOffset={6}
          className={cn("z-50 max-w-64 rounded-md bg-foreground px-2 py-1 text-xs text-background shadow-md animate-in fade-in-0")}
        >
          {content}
          <TooltipPrimitive.Arrow className="fill-foreground" />
        </TooltipPrimitive.Content>
      </TooltipPrimitive.Portal>
    </TooltipPrimitive.Root>
  );
}

export { Tooltip, TooltipProvider };
