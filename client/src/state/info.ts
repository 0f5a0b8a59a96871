/** What the header says about the service, from GET /info. Pure. */
import type { InfoResponse } from "@/api/schema";

export interface InfoSummary {
  points: number;
  collection: string;
  model: string | null;
  pretrained: string | null;
  randomWeights: boolean;
  device: string | null;
  details: string;
  /** Why searching cannot work right now (e.g. a model mismatch), or null. */
  problem: string | null;
  /** AUTO_INGEST's background scan of the image folder, while it runs or when it failed. */
  scan: string | null;
}

/** One line for the header about the start-up folder scan, or null when there is nothing to say. */
export function describeScan(scan: InfoResponse["autoIngest"]): string | null {
  if (!scan) return null;
  if (scan.status === "scanning") return `Adding the image folder: ${scan.done.toLocaleString()} / ${scan.found.toLocaleString()}`;
  if (scan.status === "failed") return `The image folder scan failed: ${scan.error ?? "see the server log"}`;
  return null;
}

export function summarizeInfo(info: InfoResponse): InfoSummary {
  // The model the service runs; the collection's own (`model`, `pretrained`) must match it,
  // or `usable` is false and `problem` says what differs.
  const running = info.running;
  const details = [
    `Collection “${info.collection}”`,
    info.vectors ? `vectors ${Object.keys(info.vectors).join(", ")}` : null,
    info.sparse?.length ? `sparse ${info.sparse.join(", ")}` : null,
    info.edgeVersion ? `edges ${info.edgeVersion}` : null,
    info.shapeVersion ? `shape ${info.shapeVersion}` : null,
    running.device ? `device ${running.device}` : null,
  ]
    .filter(Boolean)
    .join(" · ");
  return {
    points: info.points,
    collection: info.collection,
    model: running.model,
    pretrained: running.pretrained,
    randomWeights: running.randomWeights,
    device: running.device || null,
    details,
    problem: info.usable ? null : (info.problem ?? "The service cannot search this collection."),
    scan: describeScan(info.autoIngest),
  };
}
