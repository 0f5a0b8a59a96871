/**
 * Names for the server's models, all taken from `schema.gen.ts`, which openapi-typescript
 * writes from the server's OpenAPI document (`make api-types`; `make check` fails when it is
 * stale). Nothing here restates a field: change the server, regenerate, and the compiler
 * points at every use that no longer fits.
 */
import type { components, operations } from "./schema.gen";

export type Schemas = components["schemas"];
export type OperationId = keyof operations;

/** The JSON body an operation takes. */
export type JsonBody<Op extends OperationId> = JsonContent<NonNullable<operations[Op]["requestBody"]>>;
// Distributes over a union, and gives never for never (an operation without a body).
type JsonContent<T> = T extends { content: { "application/json": infer C } } ? C : never;

type Responses<Op extends OperationId> = operations[Op]["responses"];
type SuccessStatus<Op extends OperationId> = Extract<keyof Responses<Op>, 200 | 201 | 202>;
/** The JSON an operation answers on success (200, 201 or 202, whichever it declares). */
export type JsonAnswer<Op extends OperationId> = JsonContent<Responses<Op>[SuccessStatus<Op>]>;
/** An operation's query parameters. */
export type QueryParams<Op extends OperationId> = NonNullable<operations[Op]["parameters"]["query"]>;

// --- Search ---------------------------------------------------------------------------
export type SearchRequest = JsonBody<"searchHybrid">;
export type SearchResponse = JsonAnswer<"searchHybrid">;
export type SearchHit = Schemas["Hit"];
export type ViewScore = Schemas["ViewScore"];
export type SearchFilter = Schemas["SearchFilter"];
export type SearchTimings = Schemas["Timings"];
export type InfoResponse = JsonAnswer<"getInfo">;
export type SearchDefaults = Schemas["SearchDefaults"];

// --- Cross-modal RAG: /search/decompose, /search/complementary ---------------------------
export type SubQuery = Schemas["SubQueryModel"];
export type SubQueryKind = NonNullable<SubQuery["kind"]>;
export type DecomposeResponse = JsonAnswer<"decomposePrompt">;
export type ComplementaryRequest = JsonBody<"searchComplementary">;
export type ComplementaryResult = JsonAnswer<"searchComplementary">;
export type ComplementaryRef = Schemas["ComplementaryRef"];
export type SubQueryCoverage = Schemas["SubQueryCoverage"];

// --- Generation and jobs ------------------------------------------------------------------
export type GenerateRequest = JsonBody<"generateImages">;
/** The image an edit starts from: exactly one of a library id, a URL or an inline data URL. */
export type BaseImageSpec = Schemas["ImageSource"];
export type EditMode = NonNullable<GenerateRequest["editMode"]>;
export type GenerateRef = Schemas["RefSpec"];
export type RefRole = GenerateRef["role"];
export type Provider = NonNullable<GenerateRequest["provider"]>;
export type GenerateResult = Schemas["GenerateResult"];
/** Per sub-query of a grounded generation: which reference informed it. */
export type GenerationAttribution = Schemas["Attribution"];
/** What a grounded generation reads of a /search/complementary answer (`complementary`). */
export type Grounding = Schemas["Grounding"];
export type JobView = JsonAnswer<"getJob">;
export type JobStatus = JobView["status"];
/**
 * A job whose `result` the caller knows by the job's `kind` (`generate` → GenerateResult,
 * `import` → ImportResult); the schema says only that it is one of them.
 */
export type Job<R extends NonNullable<JobView["result"]> = GenerateResult> = Omit<JobView, "result"> & { result?: R | null };

/** Any job's result, whichever its kind. */
export type JobResult = NonNullable<JobView["result"]>;

// --- Stories: POST /stories, GET /stories, POST /storyboards ----------------------------------
export type StoryRequest = JsonBody<"createStory">;
export type Story = Schemas["Story"];
export type StoryResult = Schemas["StoryResult"];
export type StoryHit = Schemas["StoryHit"];
export type StorySearchResult = JsonAnswer<"searchStories">;
export type StoryboardRequest = JsonBody<"createStoryboard">;
export type StoryboardResult = Schemas["StoryboardResult"];
export type StoryFrame = Schemas["Frame"];
/** Which earlier frame or library image informed a frame, and how (attribution). */
export type FrameRef = Schemas["FrameRef"];

// --- Library --------------------------------------------------------------------------------
export type ImagePage = JsonAnswer<"listImages">;
export type ImageSummary = Schemas["ImageSummary"];
export type DeletedImage = JsonAnswer<"deleteImage">;
export type DuplicateReport = JsonAnswer<"findDuplicates">;
export type DuplicateGroup = Schemas["DuplicateGroup"];
export type NearScan = Schemas["NearScan"];
export type DuplicateScanRequest = JsonBody<"scanDuplicates">;
export type DuplicateScanResult = Schemas["DuplicateScanResult"];
export type DeletedImages = JsonAnswer<"deleteImages">;
export type TrashList = JsonAnswer<"listTrash">;
export type TrashedImage = Schemas["TrashedImage"];
export type ImportRequest = JsonBody<"createImport">;
export type ImportResult = Schemas["ImportResult"];
/** Options of an import besides its source and tags. */
export type ImportOptions = Pick<ImportRequest, "skipNearDuplicates" | "nearDuplicateThreshold">;
export type LibraryInfo = Schemas["LibraryView"];
export type LibraryVisibility = LibraryInfo["visibility"];
export type LibraryList = JsonAnswer<"listLibraries">;
export type CreateLibraryRequest = JsonBody<"createLibrary">;
export type DeletedLibrary = JsonAnswer<"deleteLibrary">;

// --- Atlas ------------------------------------------------------------------------------------
export type AtlasRequest = JsonBody<"createAtlas">;
export type AtlasResponse = JsonAnswer<"createAtlas">;
export type AtlasPage = Schemas["AtlasPage"];
export type AtlasSprite = Schemas["AtlasSprite"];

// --- Errors: RFC 9457 problem details (`application/problem+json`) --------------------------
export type ProblemBody = Schemas["Problem"];
export type FieldProblem = Schemas["FieldProblem"];
export type Health = JsonAnswer<"getHealth">;
