import type { ProviderGate } from "@/state/providers";

/** Why a provider's button is disabled (GET /info `providers`), with where to read how to fix it. */
export function ProviderUnavailable({ gate }: { gate: ProviderGate }) {
  if (gate.available) return null;
  return (
    <p className="text-xs text-red-700" data-testid="provider-unavailable" role="status">
      {gate.reason}
      {gate.href ? (
        <>
          {" "}
          <a href={gate.href} target="_blank" rel="noreferrer" className="underline">
            How to fix it
          </a>
        </>
      ) : (
        gate.docs && <> (see {gate.docs})</>
      )}
    </p>
  );
}
