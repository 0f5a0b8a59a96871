import { describe, expect, it } from "vitest";
import { defaultRole, hasRef, MAX_REFS, REF_ROLES, refsReducer, toGenerateRefs, type RefItem, type RefSource } from "./refs";

const lib = (id: string): RefSource => ({ kind: "library", id, thumbUrl: `/thumb/${id}` });
const inline = (image: string): RefSource => ({ kind: "inline", image, label: "upload" });

function add(items: RefItem[], ...sources: RefSource[]): RefItem[] {
  return sources.reduce((acc, source) => refsReducer(acc, { type: "add", source }), items);
}

describe("refsReducer", () => {
  it("gives the first reference the style role and the second the subject role", () => {
    const items = add([], lib("a"), lib("b"));
    expect(items.map((r) => r.role)).toEqual(["style", "subject"]);
    expect(items[0]!.weight).toBeCloseTo(0.6);
  });

  it("ignores a duplicate and stops at the maximum", () => {
    expect(add([], lib("a"), lib("a"))).toHaveLength(1);
    const many = add([], ...Array.from({ length: MAX_REFS + 2 }, (_, i) => lib(String(i))));
    expect(many).toHaveLength(MAX_REFS);
  });

  it("sets role and weight (clamped to 0..1) and removes", () => {
    let items = add([], lib("a"), inline("data:image/png;base64,QQ"));
    const key = items[0]!.key;
    items = refsReducer(items, { type: "setRole", key, role: "subject" });
    items = refsReducer(items, { type: "setWeight", key, weight: 1.7 });
    expect(items[0]).toMatchObject({ role: "subject", weight: 1 });
    items = refsReducer(items, { type: "remove", key });
    expect(items).toHaveLength(1);
    expect(refsReducer(items, { type: "clear" })).toEqual([]);
  });

  it("offers face and composition, and sends each role with its own weight", () => {
    expect(REF_ROLES).toEqual(["style", "subject", "face", "composition"]);
    let items = add([], lib("a"), lib("b"));
    items = refsReducer(items, { type: "setRole", key: "lib:a", role: "face" });
    items = refsReducer(items, { type: "setWeight", key: "lib:a", weight: 0.8 });
    items = refsReducer(items, { type: "setRole", key: "lib:b", role: "composition" });
    items = refsReducer(items, { type: "setWeight", key: "lib:b", weight: 0.3 });
    expect(toGenerateRefs(items)).toEqual([
      { role: "face", id: "a", weight: 0.8 },
      { role: "composition", id: "b", weight: 0.3 },
    ]);
  });

  it("knows which sources are already references", () => {
    const items = add([], lib("a"));
    expect(hasRef(items, lib("a"))).toBe(true);
    expect(hasRef(items, lib("b"))).toBe(false);
  });

  it("maps library refs to ids and inline refs to images", () => {
    const items = add([], lib("a"), inline("data:image/png;base64,QQ"));
    expect(toGenerateRefs(items)).toEqual([
      { role: "style", id: "a", weight: 0.6 },
      { role: "subject", image: "data:image/png;base64,QQ", weight: 0.6 },
    ]);
  });

  it("defaultRole fills the missing role", () => {
    expect(defaultRole([])).toBe("style");
    const onlySubject = refsReducer(add([], lib("a")), { type: "setRole", key: "lib:a", role: "subject" });
    expect(defaultRole(onlySubject)).toBe("style");
  });
});
