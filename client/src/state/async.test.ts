import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { debounce, latestGuard } from "./async";

describe("debounce", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("runs once, with the last arguments, after a quiet period", () => {
    const fn = vi.fn();
    const d = debounce(fn, 300);
    d.call(1);
    vi.advanceTimersByTime(200);
    d.call(2);
    vi.advanceTimersByTime(200);
    d.call(3);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(300);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(fn).toHaveBeenCalledWith(3);
  });

  it("flush runs the pending call at once; cancel drops it", () => {
    const fn = vi.fn();
    const d = debounce(fn, 300);
    d.call("a");
    expect(d.pending()).toBe(true);
    d.flush();
    expect(fn).toHaveBeenCalledWith("a");
    expect(d.pending()).toBe(false);
    d.call("b");
    d.cancel();
    vi.advanceTimersByTime(1000);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it("flush with nothing pending does nothing", () => {
    const fn = vi.fn();
    debounce(fn, 10).flush();
    expect(fn).not.toHaveBeenCalled();
  });
});

describe("latestGuard", () => {
  it("only the latest ticket may write", () => {
    const g = latestGuard();
    const first = g.begin();
    const second = g.begin();
    expect(g.isLatest(first)).toBe(false);
    expect(g.isLatest(second)).toBe(true);
  });

  it("a slow first response arriving after a fast second one is dropped", async () => {
    const g = latestGuard();
    const shown: string[] = [];
    const request = async (label: string, ms: number) => {
      const t = g.begin();
      await new Promise((r) => setTimeout(r, ms));
      if (g.isLatest(t)) shown.push(label);
    };
    await Promise.all([request("slow", 30), request("fast", 5)]);
    expect(shown).toEqual(["fast"]);
  });

  it("invalidate drops everything in flight", () => {
    const g = latestGuard();
    const t = g.begin();
    g.invalidate();
    expect(g.isLatest(t)).toBe(false);
  });
});
