import { authHeaders, readApiKey } from "@/state/apiKey";
import type {
  DuplicateScanResult,
  FieldProblem,
  GenerateRequest,
  GenerateResult,
  ImportOptions,
  ImportResult,
  Job,
  JobResult,
  JsonAnswer,
  JsonBody,
  LibraryVisibility,
  ProblemBody,
  QueryParams,
  StoryboardRequest,
  StoryboardResult,
  StoryRequest,
  StoryResult,
} from "./schema";

/** Something the API (or the way to it) said no to; `code` is the contract's error code,
 * `message` the problem's `detail`, `errors` its fields at fault, and `details` its extension
 * members (`limit`, `retryAfter`, …) with `field`, the first field at fault. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly requestId: string | null;
  readonly details: Record<string, unknown>;
  readonly errors: FieldProblem[];

  constructor(
    status: number,
    code: string,
    message: string,
    requestId: string | null = null,
    details: Record<string, unknown> = {},
    errors: FieldProblem[] = [],
  ) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.requestId = requestId;
    this.details = details;
    this.errors = errors;
  }
}

/** The server could not be reached at all (down, wrong port, network). */
export class NetworkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NetworkError";
  }
}

const PROBLEM_MEMBERS = new Set(["type", "title", "status", "detail", "instance", "code", "requestId", "errors"]);

function isProblem(value: unknown): value is ProblemBody {
  if (typeof value !== "object" || value === null) return false;
  const v = value as { code?: unknown; detail?: unknown };
  return typeof v.code === "string" && typeof v.detail === "string";
}

/** Turn a non-2xx response into an ApiError, using the contract's problem details when there are some. */
export async function errorFromResponse(res: Response): Promise<ApiError> {
  const requestId = res.headers.get("X-Request-ID");
  const text = await res.text().catch(() => "");
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (isProblem(body)) {
    const errors = Array.isArray(body.errors) ? body.errors : [];
    const details: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(body)) if (!PROBLEM_MEMBERS.has(key)) details[key] = value;
    if (errors[0]) details.field = errors[0].field;
    return new ApiError(res.status, body.code, body.detail, body.requestId ?? requestId, details, errors);
  }
  // FastAPI's own {"detail": ...} (e.g. an unmatched route) or a proxy's HTML page.
  const detail = typeof body === "object" && body !== null && "detail" in body ? (body as { detail: unknown }).detail : null;
  const message =
    typeof detail === "string"
      ? detail
      : res.status === 502 || res.status === 503 || res.status === 504
        ? `The Clippy API is not answering (HTTP ${res.status}).`
        : `HTTP ${res.status} ${res.statusText}`.trim();
  return new ApiError(res.status, res.status === 404 ? "not_found" : "http_error", message, requestId);
}

export interface FetchJsonOptions {
  method?: string;
  body?: unknown;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

/** fetch + JSON, throwing ApiError (error body) or NetworkError (no answer). AbortError passes through. */
export async function fetchJson<T>(url: string, opts: FetchJsonOptions = {}): Promise<T> {
  // The stored API key (if any) goes on every call; the server ignores it when API_KEYS is unset.
  const headers: Record<string, string> = { Accept: "application/json", ...authHeaders(readApiKey()), ...opts.headers };
  let body: BodyInit | undefined;
  if (opts.body instanceof FormData) {
    body = opts.body;
  } else if (opts.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(opts.body);
  }
  let res: Response;
  try {
    res = await fetch(url, { method: opts.method ?? (body ? "POST" : "GET"), headers, body, signal: opts.signal });
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError") throw e;
    throw new NetworkError("Cannot reach the Clippy API. Is the server running?");
  }
  if (!res.ok) throw await errorFromResponse(res);
  try {
    return (await res.json()) as T;
  } catch {
    throw new ApiError(res.status, "bad_response", `The API answered ${url} with something that is not JSON.`);
  }
}

export function isAbort(e: unknown): boolean {
  return e instanceof DOMException && e.name === "AbortError";
}

// Each call's body and answer are the operation's own, by its OpenAPI operation id.
export const api = {
  search: (req: JsonBody<"searchHybrid">, signal?: AbortSignal) => fetchJson<JsonAnswer<"searchHybrid">>("/search/hybrid", { body: req, signal }),
  info: (signal?: AbortSignal) => fetchJson<JsonAnswer<"getInfo">>("/info", { signal }),
  healthz: (signal?: AbortSignal) => fetchJson<JsonAnswer<"getHealth">>("/healthz", { signal }),
  generate: (req: GenerateRequest, idempotencyKey: string, signal?: AbortSignal) =>
    fetchJson<Job>("/images/generate", { body: req, signal, headers: { "Idempotency-Key": idempotencyKey } }),
  /** A job by id; `R` is the result its kind gives (the caller knows the kind it submitted). */
  job: <R extends JobResult = GenerateResult>(id: string, signal?: AbortSignal) => fetchJson<Job<R>>(`/jobs/${encodeURIComponent(id)}`, { signal }),
  cancelJob: <R extends JobResult = GenerateResult>(id: string) => fetchJson<Job<R>>(`/jobs/${encodeURIComponent(id)}`, { method: "DELETE" }),
  importJob: (id: string, signal?: AbortSignal) => fetchJson<Job<ImportResult>>(`/jobs/${encodeURIComponent(id)}`, { signal }),

  createStory: (req: StoryRequest, idempotencyKey: string, signal?: AbortSignal) =>
    fetchJson<Job<StoryResult>>("/stories", { body: req, signal, headers: { "Idempotency-Key": idempotencyKey } }),
  searchStories: (q: QueryParams<"searchStories">, signal?: AbortSignal) =>
    fetchJson<JsonAnswer<"searchStories">>(`/stories${queryString({ ...q })}`, { signal }),
  createStoryboard: (req: StoryboardRequest, idempotencyKey: string, signal?: AbortSignal) =>
    fetchJson<Job<StoryboardResult>>("/storyboards", { body: req, signal, headers: { "Idempotency-Key": idempotencyKey } }),

  /** One sprite atlas for a page of hits; `missing` lists the ids it could not place. */
  atlas: (req: JsonBody<"createAtlas">, signal?: AbortSignal) => fetchJson<JsonAnswer<"createAtlas">>("/atlas", { body: req, signal }),

  decompose: (prompt: string, signal?: AbortSignal) =>
    fetchJson<JsonAnswer<"decomposePrompt">>("/search/decompose", { body: { prompt } satisfies JsonBody<"decomposePrompt">, signal }),
  complementary: (req: JsonBody<"searchComplementary">, signal?: AbortSignal) =>
    fetchJson<JsonAnswer<"searchComplementary">>("/search/complementary", { body: req, signal }),

  listLibraries: (signal?: AbortSignal) => fetchJson<JsonAnswer<"listLibraries">>("/libraries", { signal }),
  createLibrary: (name: string, visibility: LibraryVisibility) =>
    fetchJson<JsonAnswer<"createLibrary">>("/libraries", { body: { name, visibility } satisfies JsonBody<"createLibrary"> }),
  deleteLibrary: (name: string) => fetchJson<JsonAnswer<"deleteLibrary">>(`/libraries/${encodeURIComponent(name)}`, { method: "DELETE" }),

  listImages: (q: ListImagesQuery, signal?: AbortSignal) => fetchJson<JsonAnswer<"listImages">>(`/images${queryString({ ...q })}`, { signal }),
  deleteImage: (id: string) => fetchJson<JsonAnswer<"deleteImage">>(`/images/${encodeURIComponent(id)}`, { method: "DELETE" }),
  duplicates: (q: Pick<QueryParams<"findDuplicates">, "library">, signal?: AbortSignal) =>
    fetchJson<JsonAnswer<"findDuplicates">>(`/images/duplicates${queryString({ ...q })}`, { signal }),
  /** A near-duplicate scan as a job (202); its groups show in `duplicates` once it succeeds. */
  scanDuplicates: (req: JsonBody<"scanDuplicates">) => fetchJson<Job<DuplicateScanResult>>("/images/duplicates/scans", { body: req }),
  scanJob: (id: string, signal?: AbortSignal) => fetchJson<Job<DuplicateScanResult>>(`/jobs/${encodeURIComponent(id)}`, { signal }),
  /** Several items into the trash; above the server's limit `confirm` must be their number. */
  deleteImages: (ids: readonly string[], confirm: number | null) =>
    fetchJson<JsonAnswer<"deleteImages">>("/images/deletions", { body: { ids: [...ids], confirm } satisfies JsonBody<"deleteImages"> }),
  trash: (signal?: AbortSignal) => fetchJson<JsonAnswer<"listTrash">>("/trash", { signal }),
  restoreImage: (id: string) => fetchJson<JsonAnswer<"restoreImage">>(`/images/${encodeURIComponent(id)}/restore`, { method: "POST" }),
  /** Multipart: images and/or ZIPs in `files`, `tags` as a JSON list, options as form fields. */
  importFiles: (library: string, files: readonly File[], tags: readonly string[], idempotencyKey: string, options: ImportOptions = {}) => {
    const form = new FormData();
    for (const f of files) form.append("files", f, f.name);
    if (tags.length) form.append("tags", JSON.stringify(tags));
    if (options.skipNearDuplicates) form.append("skipNearDuplicates", "true");
    if (options.skipNearDuplicates && options.nearDuplicateThreshold != null) form.append("nearDuplicateThreshold", String(options.nearDuplicateThreshold));
    return fetchJson<Job<ImportResult>>(`/libraries/${encodeURIComponent(library)}/imports`, {
      body: form,
      headers: { "Idempotency-Key": idempotencyKey },
    });
  },
  importUrls: (library: string, urls: readonly string[], tags: readonly string[], idempotencyKey: string, options: ImportOptions = {}) =>
    fetchJson<Job<ImportResult>>(`/libraries/${encodeURIComponent(library)}/imports`, {
      body: {
        urls: [...urls],
        tags: [...tags],
        ...(options.skipNearDuplicates ? { skipNearDuplicates: true, nearDuplicateThreshold: options.nearDuplicateThreshold ?? null } : {}),
      } satisfies JsonBody<"createImport">,
      headers: { "Idempotency-Key": idempotencyKey },
    }),
};

export type ListImagesQuery = QueryParams<"listImages">;

/** `?a=1&b=x` from the given values, leaving out null, undefined and "". */
export function queryString(params: Record<string, string | number | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}
