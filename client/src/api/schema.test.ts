import { describe, expectTypeOf, it } from "vitest";
import type { Job, JsonAnswer, JsonBody, QueryParams, Schemas } from "./schema";

// Type-level: `npm run lint` (tsc) fails when a helper resolves to the wrong schema or to never.
describe("operation types", () => {
  it("take each operation's body and answer from the generated schema", () => {
    expectTypeOf<JsonBody<"searchHybrid">>().toEqualTypeOf<Schemas["HybridQuery"]>();
    expectTypeOf<JsonAnswer<"searchHybrid">>().toEqualTypeOf<Schemas["SearchResult"]>();
    expectTypeOf<JsonAnswer<"getInfo">>().toEqualTypeOf<Schemas["InfoResponse"]>();
    // 201 and 202 answers too, not only 200.
    expectTypeOf<JsonAnswer<"createLibrary">>().toEqualTypeOf<Schemas["LibraryView"]>();
    expectTypeOf<JsonAnswer<"generateImages">>().toEqualTypeOf<Schemas["JobView"]>();
    // The JSON body of an operation that also takes multipart.
    expectTypeOf<JsonBody<"createImport">>().toEqualTypeOf<Schemas["ImportRequest"]>();
    expectTypeOf<QueryParams<"listImages">>().toHaveProperty("cursor");
    // No body: never, so passing one is an error.
    expectTypeOf<JsonBody<"getInfo">>().toBeNever();
  });

  it("narrow a job's result by its kind", () => {
    expectTypeOf<Job["result"]>().toEqualTypeOf<Schemas["GenerateResult"] | null | undefined>();
    expectTypeOf<Job<Schemas["ImportResult"]>["status"]>().toEqualTypeOf<Schemas["JobView"]["status"]>();
  });
});
