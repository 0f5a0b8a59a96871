// The mock API (e2e/mock-api.mjs) answers what the server's OpenAPI document declares: each
// call goes through the mock's own routes, and its status, content type and body are checked
// against the operation's declared responses (client/openapi.json, written by
// `make api-types`). Runs with `npm test` (vitest); not a browser test.
import { readFileSync } from "node:fs";
import Ajv2020 from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import server from "./mock-api.mjs";

const DOC = JSON.parse(readFileSync(new URL("../openapi.json", import.meta.url), "utf8"));
// OpenAPI 3.1 schemas are JSON Schema 2020-12; `format` is not checked (ajv-formats is not needed for this).
const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
ajv.addSchema(DOC, "openapi.json");
const validators = new Map();

const pointer = (...parts) => parts.map((p) => String(p).replace(/~/g, "~0").replace(/\//g, "~1")).join("/");

function validator(...parts) {
  const ref = `openapi.json#/${pointer(...parts)}`;
  if (!validators.has(ref)) validators.set(ref, ajv.compile({ $ref: ref }));
  return validators.get(ref);
}

function expectValid(validate, value, what) {
  const ok = validate(value);
  expect(ok, `${what}: ${ajv.errorsText(validate.errors, { separator: "\n  " })}\n${JSON.stringify(value).slice(0, 400)}`).toBe(true);
}

let base = "";

beforeAll(async () => {
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  base = `http://127.0.0.1:${server.address().port}`;
});

afterAll(async () => {
  vi.useRealTimers();
  await new Promise((ok) => server.close(ok));
});

/**
 * Call the mock as `method template` (the document's path, e.g. /jobs/{job_id}) at `url`;
 * check the request body against the operation's, and the answer against the status's
 * declared content. Returns the answer's JSON.
 */
async function call(method, template, url, { body, status } = {}) {
  const op = DOC.paths[template]?.[method];
  expect(op, `${method.toUpperCase()} ${template} is not in the document`).toBeDefined();
  if (body !== undefined) {
    expect(op.requestBody?.content?.["application/json"], `${op.operationId} takes no JSON body`).toBeDefined();
    expectValid(validator("paths", template, method, "requestBody", "content", "application/json", "schema"), body, `${op.operationId} request`);
  }
  const res = await fetch(base + url, {
    method: method.toUpperCase(),
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (status !== undefined) expect(res.status, `${op.operationId} status`).toBe(status);
  const declared = op.responses[String(res.status)];
  expect(declared, `${op.operationId} does not declare ${res.status}`).toBeDefined();
  const type = (res.headers.get("content-type") ?? "").split(";")[0];
  expect(declared.content?.[type], `${op.operationId} ${res.status} is not declared as ${type}`).toBeDefined();
  const json = await res.json();
  expectValid(validator("paths", template, method, "responses", res.status, "content", type, "schema"), json, `${op.operationId} ${res.status}`);
  return json;
}

const WEIGHTS = { wImg: 1, wEdge: 0.5, wTxt: 1, wTags: 0.5, limit: 6, rerank: true };

describe("the mock API answers as the OpenAPI document declares", () => {
  it("checks something: an answer that does not fit is refused", () => {
    const hit = validator("components", "schemas", "Hit");
    const fits = { id: "a", score: 1, views: {}, imageUrl: "/image/a", thumbUrl: "/thumb/a", tags: [], payload: { tags: [] } };
    expect(hit(fits)).toBe(true);
    expect(hit({ ...fits, tags: undefined })).toBe(false);
    expect(hit({ ...fits, score: "1" })).toBe(false);
    expect(hit({ ...fits, extra: 1 })).toBe(false);
  });

  it("service: health and info", async () => {
    await call("get", "/healthz", "/healthz", { status: 200 });
    await call("get", "/info", "/info", { status: 200 });
  });

  it("search: hybrid, decompose, complementary, atlas, and a problem", async () => {
    const page = await call("post", "/search/hybrid", "/search/hybrid", { body: { queryText: "a cat", ...WEIGHTS }, status: 200 });
    expect(page.hits.length).toBe(6);
    await call("post", "/search/hybrid", "/search/hybrid", { body: { ...WEIGHTS, cursor: page.nextCursor, filter: { tagsAll: ["cat"] } }, status: 200 });
    await call("post", "/search/hybrid", "/search/hybrid", { body: { ...WEIGHTS, wImg: 0, wEdge: 0, wTxt: 0, wTags: 0 }, status: 422 });
    const parts = await call("post", "/search/decompose", "/search/decompose", { body: { prompt: "a cat in a forest, watercolour" }, status: 200 });
    await call("post", "/search/complementary", "/search/complementary", { body: { prompt: "a cat in a forest" }, status: 200 });
    await call("post", "/search/complementary", "/search/complementary", { body: { subQueries: parts.subQueries, limit: 3 }, status: 200 });
    const ids = page.hits.map((h) => h.id);
    const atlas = await call("post", "/atlas", "/atlas", { body: { ids: [...ids, "00000000-0000-4000-8000-999999999999"], cell: 64 }, status: 200 });
    expect(atlas.missing).toEqual(["00000000-0000-4000-8000-999999999999"]);
  });

  it("library: images, duplicates, deletion, library records", async () => {
    const list = await call("get", "/images", "/images?limit=5&library=default", { status: 200 });
    await call("get", "/images/duplicates", "/images/duplicates?threshold=0.9", { status: 200 });
    const id = list.items[0].id;
    await call("delete", "/images/{image_id}", `/images/${id}`, { status: 200 });
    await call("delete", "/images/{image_id}", `/images/${id}`, { status: 404 });
    expect((await call("get", "/trash", "/trash", { status: 200 })).items[0].id).toBe(id);
    await call("post", "/images/{image_id}/restore", `/images/${id}/restore`, { status: 200 });
    await call("post", "/images/{image_id}/restore", `/images/${id}/restore`, { status: 404 });
    const four = list.items.slice(1, 5).map((it) => it.id);
    await call("post", "/images/deletions", "/images/deletions", { body: { ids: four }, status: 422 });
    const gone = await call("post", "/images/deletions", "/images/deletions", { body: { ids: four, confirm: 4 }, status: 200 });
    expect(gone.deleted.map((d) => d.id)).toEqual(four);
    for (const i of four) await call("post", "/images/{image_id}/restore", `/images/${i}/restore`, { status: 200 });
    const scan = await call("post", "/images/duplicates/scans", "/images/duplicates/scans", { body: { threshold: 0.9 }, status: 202 });
    expect(scan.kind).toBe("duplicates");
    await call("get", "/libraries", "/libraries", { status: 200 });
    await call("post", "/libraries", "/libraries", { body: { name: "mine", visibility: "private" }, status: 201 });
    await call("post", "/libraries", "/libraries", { body: { name: "mine" }, status: 409 });
    await call("get", "/libraries/{name}", "/libraries/mine", { status: 200 });
    await call("get", "/libraries/{name}", "/libraries/nowhere", { status: 404 });
    await call("delete", "/libraries/{name}", "/libraries/mine", { status: 200 });
  });

  it("jobs: generation (plain, grounded, failing, cancelled) and imports, from queued to done", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const start = Date.now();
    vi.setSystemTime(start);
    const plain = await call("post", "/images/generate", "/images/generate", { body: { prompt: "a cat", refs: [] }, status: 202 });
    const rag = await call("post", "/search/complementary", "/search/complementary", { body: { prompt: "a cat in a forest" }, status: 200 });
    const grounded = await call("post", "/images/generate", "/images/generate", {
      body: { prompt: "a cat in a forest", refs: [], grounding: true, complementary: rag },
      status: 202,
    });
    const failing = await call("post", "/images/generate", "/images/generate", { body: { prompt: "fail" }, status: 202 });
    const cancelled = await call("post", "/images/generate", "/images/generate", { body: { prompt: "a dog" }, status: 202 });
    const imported = await call("post", "/libraries/{library}/imports", "/libraries/default/imports", {
      body: { urls: ["https://example.com/a.png", "https://example.com/broken.png"], tags: ["x"] },
      status: 202,
    });
    vi.setSystemTime(start + 1000);
    expect((await call("get", "/jobs/{job_id}", `/jobs/${plain.id}`, { status: 200 })).status).toBe("running");
    await call("delete", "/jobs/{job_id}", `/jobs/${cancelled.id}`, { status: 200 });
    vi.setSystemTime(start + 60_000);
    expect((await call("get", "/jobs/{job_id}", `/jobs/${plain.id}`, { status: 200 })).status).toBe("succeeded");
    expect((await call("get", "/jobs/{job_id}", `/jobs/${grounded.id}`, { status: 200 })).result.attribution.length).toBeGreaterThan(0);
    expect((await call("get", "/jobs/{job_id}", `/jobs/${failing.id}`, { status: 200 })).status).toBe("failed");
    expect((await call("get", "/jobs/{job_id}", `/jobs/${cancelled.id}`, { status: 200 })).status).toBe("cancelled");
    expect((await call("get", "/jobs/{job_id}", `/jobs/${imported.id}`, { status: 200 })).result.failed).toHaveLength(1);
    await call("get", "/jobs/{job_id}", "/jobs/nope", { status: 404 });
    vi.useRealTimers();
  });
});
