import { AlertTriangle, Database, RefreshCw } from "lucide-react";
import type { InfoResponse } from "@/api/schema";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Tooltip } from "@/components/ui/tooltip";
import { describeError } from "@/state/errors";
import { summarizeInfo } from "@/state/info";
import { ApiKeyButton } from "./ApiKeyButton";

export function Header({
  info,
  error,
  onRetry,
  nav,
  onApiKeyChange,
}: {
  info: InfoResponse | null;
  error: unknown;
  onRetry: () => void;
  nav?: React.ReactNode;
  /** The API key was saved or forgotten; /info is reloaded either way. */
  onApiKeyChange?: () => void;
}) {
  const problem = error ? describeError(error) : null;
  const s = info ? summarizeInfo(info) : null;
  return (
    <header className="flex min-h-12 shrink-0 flex-wrap items-center gap-x-3 gap-y-1 border-b bg-background px-4 py-1.5 max-md:flex-nowrap max-md:gap-x-2 max-md:px-2 max-md:py-1">
      <div className="flex shrink-0 items-center gap-2">
        <img src="/favicon.svg" alt="" className="size-6" />
        <h1 className="text-sm font-semibold tracking-tight max-sm:sr-only">Clippy</h1>
        <span className="hidden text-xs text-muted-foreground xl:inline">sketch → references → new images</span>
      </div>
      {nav}
      {/* On a phone: one line (the model badges are in the desktop header only). */}
      <div className="ml-auto flex min-w-0 flex-wrap items-center gap-2 text-xs max-md:flex-nowrap">
        {problem ? (
          <div role="alert" className="flex items-center gap-2 text-red-700">
            <AlertTriangle className="size-4" aria-hidden />
            <span>
              <b>{problem.title}:</b> {problem.message}
            </span>
            <Button size="sm" variant="outline" onClick={onRetry}>
              <RefreshCw /> Retry
            </Button>
          </div>
        ) : s ? (
          <>
            {s.problem && (
              <span role="alert" className="flex items-center gap-1 text-red-700">
                <AlertTriangle className="size-4" aria-hidden /> {s.problem}
              </span>
            )}
            {s.scan && (
              <span role="status" className="text-muted-foreground">
                {s.scan}
              </span>
            )}
            <Tooltip content={s.details}>
              <span className="flex items-center gap-1 text-muted-foreground" tabIndex={0}>
                <Database className="size-3.5" aria-hidden />
                {s.points.toLocaleString()} <span className="max-sm:sr-only">images</span>
              </span>
            </Tooltip>
            {s.model && (
              <Badge variant="outline" className="max-md:hidden">
                {s.model}
                {s.pretrained && <> · {s.pretrained}</>}
                {s.device && <> · {s.device}</>}
              </Badge>
            )}
            {s.randomWeights && (
              <Tooltip content="The model runs with random weights (a test setup): rankings are not meaningful.">
                <Badge variant="warning" tabIndex={0} className="max-md:hidden">
                  random weights
                </Badge>
              </Tooltip>
            )}
          </>
        ) : (
          <span className="text-muted-foreground">Connecting…</span>
        )}
        <ApiKeyButton
          onChanged={() => {
            onRetry();
            onApiKeyChange?.();
          }}
        />
      </div>
    </header>
  );
}
