/** Types of the Clippy HTTP contract (`.plan/CONTRACT.md`). All keys camelCase. */

export type ViewName = "image" | "edge" | "text" | "tags";

export interface SearchFilter {
  tagsAll: string[];
  tagsAny: string[];
  tagsNone: string[];
  /** Indexed payload fields → a value or any of a list (source, sha256, library, width, height). */
  match?: Record<string, string | number | boolean | (string | number | boolean)[]>;
  /** Indexed integer fields → {gte, lte}. */
  range?: Record<string, { gte?: number; lte?: number }>;
}

export interface SearchRequest {
  queryText?: string | null;
  negativeText?: string | null;
  /** data:image/png;base64,… (JSON body) */
  sketch?: string | null;
  /** data:image/…;base64,… (JSON body) */
  image?: string | null;
  wImg: number;
  wEdge: number;
  wTxt: number;
  wTags: number;
  limit: number;
  offset?: number;
  cursor?: string | null;
  filter?: SearchFilter | null;
  scoreThreshold?: number | null;
  rerank: boolean;
  positiveIds?: string[];
  negativeIds?: string[];
}

export interface ViewScore {
  raw: number | null;
  calibrated: number | null;
  weight: number;
}

export interface SearchHit {
  id: string;
  score: number;
  views: Partial<Record<ViewName, ViewScore | null>>;
  imageUrl: string;
  thumbUrl: string;
  tags: string[];
  width: number | null;
  height: number | null;
  source: string | null;
  path: string | null;
}

export interface SearchTimings {
  encodeMs?: number;
  searchMs?: number;
  rerankMs?: number;
  totalMs?: number;
}

export interface SearchResponse {
  requestId: string;
  hits: SearchHit[];
  nextCursor: string | null;
  weights: Partial<Record<ViewName, number>>;
  timings: SearchTimings;
}

/**
 * GET /info. The contract shows `model` as an object; the service sends the
 * collection's model as strings plus `running` (the loaded model), `usable` and
 * `problem`. Read it through `summarizeInfo` (state/info.ts), which takes both.
 */
export interface InfoResponse {
  collection: string;
  exists?: boolean;
  points: number;
  model?: { name: string; pretrained: string; randomWeights: boolean } | string | null;
  pretrained?: string | null;
  randomWeights?: boolean;
  textModel?: string | null;
  vectors?: Partial<Record<ViewName, number>>;
  sparse?: string[];
  edgeVersion?: string | null;
  running?: { model: string; pretrained: string; randomWeights: boolean; textModel?: string; device?: string };
  usable?: boolean;
  problem?: string;
}

export type RefRole = "style" | "subject";

export type GenerateRef =
  | { role: RefRole; id: string; weight: number }
  | { role: RefRole; url: string; weight: number }
  | { role: RefRole; image: string; weight: number };

export type Provider = "sdxl" | "imagen" | "gemini";

export interface GenerateRequest {
  prompt: string;
  negativePrompt?: string | null;
  refs: GenerateRef[];
  sketch?: string | null;
  sketchWeight?: number;
  provider?: Provider | null;
  seed?: number | null;
  width?: number;
  height?: number;
  n?: number;
  steps?: number;
  guidance?: number;
  addToLibrary?: boolean;
}

export type JobStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled";

export interface JobResultImage {
  url: string;
  id?: string | null;
}

export interface Job {
  id: string;
  kind: string;
  status: JobStatus;
  progress: { step: number; total: number } | null;
  result: { images: JobResultImage[]; provider: string; model: string; seed: number | null } | null;
  error: { code: string; message: string } | null;
  createdAt: string;
  updatedAt: string;
}

/** The error body every non-2xx response carries. */
export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
  requestId?: string;
}
