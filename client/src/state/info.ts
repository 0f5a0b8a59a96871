/** What the header says about the service, from GET /info in either shape. Pure. */
import type { InfoResponse } from "@/api/types";

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
}

export function summarizeInfo(info: InfoResponse): InfoSummary {
  const m = info.model;
  const fromCollection =
    m && typeof m === "object"
      ? { model: m.name, pretrained: m.pretrained, randomWeights: m.randomWeights }
      : { model: m ?? null, pretrained: info.pretrained ?? null, randomWeights: info.randomWeights ?? false };
  const running = info.running;
  const details = [
    `Collection “${info.collection}”`,
    info.vectors ? `vectors ${Object.keys(info.vectors).join(", ")}` : null,
    info.sparse?.length ? `sparse ${info.sparse.join(", ")}` : null,
    info.edgeVersion ? `edges ${info.edgeVersion}` : null,
    info.shapeVersion ? `shape ${info.shapeVersion}` : null,
    running?.device ? `device ${running.device}` : null,
  ]
    .filter(Boolean)
    .join(" · ");
  return {
    points: info.points ?? 0,
    collection: info.collection,
    model: running?.model ?? fromCollection.model,
    pretrained: running?.pretrained ?? fromCollection.pretrained,
    randomWeights: running?.randomWeights ?? fromCollection.randomWeights,
    device: running?.device ?? null,
    details,
    problem: info.usable === false ? (info.problem ?? "The service cannot search this collection.") : null,
  };
}
