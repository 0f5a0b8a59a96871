/** Types of the Clippy HTTP contract (`.plan/CONTRACT.md`). All keys camelCase. */

export type ViewName = "image" | "edge" | "text" | "shape" | "tags";

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
  /** The weight-free `shape` view (the server's default is 0). */
  wShape?: number;
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
  decodeMs?: number;
  encodeMs?: number;
  prepareMs?: number;
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
  shapeVersion?: string | null;
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
  /** Cross-modal RAG: add the refs of `complementary` with roles and weights from what they cover. */
  grounding?: boolean;
  /** The POST /search/complementary answer, as is (needs `grounding: true`). */
  complementary?: ComplementaryResult | null;
}

export type JobStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled";

export interface JobResultImage {
  url: string;
  id?: string | null;
}

/** Per sub-query of a grounded generation: which reference informed it (job result `attribution`). */
export interface GenerationAttribution {
  subQueryId: string;
  text: string;
  kind: SubQueryKind | string;
  refId: string | null;
  /** Index into the job's refs (the request's own refs come first). */
  refIndex: number | null;
  role: RefRole | null;
  weight: number | null;
  score: number;
}

export interface GenerateResult {
  images: JobResultImage[];
  provider: string;
  model: string;
  seed: number | null;
  notes?: string[];
  /** Grounded requests only. */
  attribution?: GenerationAttribution[];
}

/** Result of an `import` job. */
export interface ImportResult {
  library: string;
  total: number;
  ingested: number;
  skipped: number;
  failed: { path: string; reason: string }[];
  ids: string[];
  /** Left out by `skipNearDuplicates`: each with the id of the image it is too close to. */
  nearDuplicates?: { path: string; duplicateOf: string; score: number }[];
}

/** Options of POST /libraries/{library}/imports besides the source and tags. */
export interface ImportOptions {
  /** Leave out images whose picture is within the threshold of one already in the library. */
  skipNearDuplicates?: boolean;
  /** Image-view cosine; the server's DUPLICATE_THRESHOLD when left out. */
  nearDuplicateThreshold?: number | null;
}

export interface Job<R = GenerateResult> {
  id: string;
  kind: string;
  status: JobStatus;
  /** Generation: steps; imports: files done / total. */
  progress: { step: number; total: number } | null;
  result: R | null;
  error: { code: string; message: string } | null;
  createdAt: string;
  updatedAt: string;
}

/** One field at fault in a problem answer. */
export interface FieldProblem {
  field: string;
  message: string;
}

/** Every error answer: RFC 9457 problem details (`application/problem+json`), plus
 * `code`, `requestId` and `errors`; other members (`limit`, `retryAfter`, …) are extensions. */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  code: string;
  requestId?: string | null;
  errors?: FieldProblem[];
  [extension: string]: unknown;
}

// --- Cross-modal RAG: /search/decompose, /search/complementary -------------------------

export type SubQueryKind = "subject" | "object" | "style" | "setting";

export interface SubQuery {
  /** q1, q2, … ([A-Za-z0-9_-], ≤ 32); assigned by the server when missing. */
  id?: string | null;
  text: string;
  kind: SubQueryKind;
  weight: number;
}

export interface DecomposeResponse {
  requestId: string | null;
  prompt: string;
  subQueries: (SubQuery & { id: string })[];
  parser: "parser" | "rules";
}

export interface ComplementaryRequest {
  prompt?: string | null;
  /** Wins over `prompt` when given. */
  subQueries?: SubQuery[] | null;
  limit?: number;
  wImg?: number;
  wTxt?: number;
  wTags?: number;
  filter?: SearchFilter | null;
  method?: "auto" | "greedy" | "exact";
}

export interface ComplementaryRef {
  id: string;
  rank: number;
  gain: number;
  /** Sub-query id → score 0..1. */
  coverage: Record<string, number>;
  covers: string[];
  attributed: string[];
  role: RefRole;
  weight: number;
  imageUrl: string;
  thumbUrl: string;
  tags: string[];
  width: number | null;
  height: number | null;
  source: string | null;
  path: string | null;
}

export interface CoverageMatrixBody {
  /** Reference ids (the order of `refs`). */
  rows: string[];
  /** Sub-query ids (the order of `subQueries`). */
  columns: string[];
  values: number[][];
  threshold: number;
}

export interface SubQueryCoverage {
  subQueryId: string;
  text: string;
  kind: SubQueryKind;
  refId: string | null;
  score: number;
  covered: boolean;
}

export interface ComplementaryResult {
  requestId: string | null;
  prompt: string | null;
  subQueries: (SubQuery & { id: string })[];
  refs: ComplementaryRef[];
  matrix: CoverageMatrixBody;
  attribution: SubQueryCoverage[];
  coverage: number;
  covered: number;
  frontier: number;
  candidates: number;
  method: "greedy" | "exact";
  weights: Record<string, number>;
  timings: SearchTimings;
}

// --- Library: /images, /images/duplicates, /libraries/{library}/imports ---------------

export interface ImageSummary {
  id: string;
  library: string | null;
  tags: string[];
  width: number | null;
  height: number | null;
  source: string | null;
  path: string | null;
  imageUrl: string;
  thumbUrl: string;
}

export interface ImagePage {
  items: ImageSummary[];
  nextCursor: string | null;
  total: number;
}

export interface DeletedImage {
  id: string;
  thumbnailRemoved: boolean;
  fileRemoved: boolean;
  fileKeptReason: string | null;
}

export interface DuplicateMember {
  id: string;
  library: string | null;
  path: string | null;
  width: number | null;
  height: number | null;
  /** Cosine to `keep` (near groups); null for `keep`. */
  score: number | null;
}

export interface DuplicateGroup {
  kind: "exact" | "near" | string;
  /** The suggested keeper. */
  keep: string;
  members: DuplicateMember[];
  minScore: number | null;
  maxScore: number | null;
}

export interface DuplicateReport {
  library: string | null;
  threshold: number;
  scanned: number;
  exact: DuplicateGroup[];
  near: DuplicateGroup[];
}

// --- Library records: /libraries (owner, visibility) --------------------------------

export type LibraryVisibility = "private" | "public";

export interface LibraryInfo {
  name: string;
  /** The user or team that owns it; null: the operators'. */
  owner: string | null;
  visibility: LibraryVisibility;
  /** The default library (DEFAULT_LIBRARY): always there, public-read, never deleted. */
  default: boolean;
  /** Whether the calling key may import into it and delete from it. */
  writable: boolean;
  images: number;
  createdAt: string | null;
}

export interface LibraryList {
  libraries: LibraryInfo[];
}

export interface DeletedLibrary {
  name: string;
  imagesRemoved: number;
  thumbnailsRemoved: number;
  filesRemoved: number;
}

/** POST /atlas: one sprite sheet for many library thumbnails (ids 1–500; `cell` 32–256, default 128). */
export interface AtlasRequest {
  ids: string[];
  cell?: number;
}

/** One page (texture) of an atlas. `url` needs the same auth as `/thumb/{id}` and expires (about an hour). */
export interface AtlasPage {
  url: string;
  width: number;
  height: number;
}

/** Where a thumbnail lies in its page, in page pixels (aspect kept, centred in its cell). */
export interface AtlasSprite {
  page: number;
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface AtlasResponse {
  cell: number;
  padding: number;
  pages: AtlasPage[];
  sprites: Record<string, AtlasSprite>;
  /** Requested ids that are not in the atlas (unknown, not readable by this key, unreadable file). */
  missing: string[];
}
