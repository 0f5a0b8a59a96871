import { Canvas, PencilBrush, type FabricObject } from "fabric";
import { Brush, Eraser, Layers, X } from "lucide-react";
import { useCallback, useEffect, useRef, useState } from "react";
import { AuthImage } from "@/components/AuthImage";
import { BrushSize, HistoryButtons, ToolButton } from "@/components/CanvasTools";
import { Button } from "@/components/ui/button";
import { Label } from "@/components/ui/label";
import { firstImageFile } from "@/lib/images";
import { useCanvasHistory } from "@/hooks/useCanvasHistory";
import { cn } from "@/lib/utils";

/** Logical size of the drawing; the sketch is sent at this size. */
export const SKETCH_SIZE = 512;

type Tool = "pen" | "eraser";

const ERASER_MARK = "clippyEraser";

export interface SketchCanvasProps {
  /** Called when a stroke ends, and after undo, redo and clear: a white-background PNG, or null when empty. */
  onChange: (sketch: string | null) => void;
  /** A picture to trace over; shown under the strokes, never sent with the query. */
  underlayUrl: string | null;
  onClearUnderlay: () => void;
  /** An image file was dropped or pasted: use it as the example-image query. */
  onImageFile: (file: File) => void;
  /** A same-origin image URL (a result) was dropped on the canvas. */
  onImageUrl: (url: string) => void;
  /** Keyboard shortcuts on (default); off while the canvas is hidden, e.g. behind the edit mask. */
  shortcuts?: boolean;
}

function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  const tag = target.tagName;
  return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
}

export function SketchCanvas({ onChange, underlayUrl, onClearUnderlay, onImageFile, onImageUrl, shortcuts = true }: SketchCanvasProps) {
  const hostRef = useRef<HTMLDivElement>(null);
  const canvasRef = useRef<Canvas | null>(null);
  const [tool, setTool] = useState<Tool>("pen");
  const [size, setSize] = useState(5);
  const [underlayVisible, setUnderlayVisible] = useState(true);
  const [dragOver, setDragOver] = useState(false);
  const [blank, setBlank] = useState(true);
  const toolRef = useRef(tool);
  toolRef.current = tool;
  const onChangeRef = useRef(onChange);
  onChangeRef.current = onChange;

  const emit = useCallback(() => {
    const canvas = canvasRef.current;
    if (!canvas) return;
    const inked = canvas.getObjects().some((o) => !(o as unknown as Record<string, unknown>)[ERASER_MARK]);
    setBlank(!inked);
    if (!inked) {
      onChangeRef.current(null);
      return;
    }
    // Strokes are drawn on a transparent canvas (so the underlay shows and the
    // eraser cuts through); flatten them onto white for the query.
    const strokes = canvas.toCanvasElement(1);
    const out = document.createElement("canvas");
    out.width = SKETCH_SIZE;
    out.height = SKETCH_SIZE;
    const ctx = out.getContext("2d");
    if (!ctx) return;
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, SKETCH_SIZE, SKETCH_SIZE);
    ctx.drawImage(strokes, 0, 0, SKETCH_SIZE, SKETCH_SIZE);
    onChangeRef.current(out.toDataURL("image/png"));
  }, []);

  const { added, undo, redo, clear, canUndo, canRedo } = useCanvasHistory(canvasRef, emit);

  // Create the Fabric canvas on an element we own, so StrictMode's double mount and Fabric's async dispose never share one.
  useEffect(() => {
    const host = hostRef.current;
    if (!host) return;
    const el = document.createElement("canvas");
    el.setAttribute("aria-label", "Sketch canvas: draw with the mouse, pen or finger");
    host.appendChild(el);
    const canvas = new Canvas(el, {
      width: SKETCH_SIZE,
      height: SKETCH_SIZE,
      isDrawingMode: true,
      selection: false,
      enablePointerEvents: true,
    });
    canvas.setDimensions({ width: "100%", height: "100%" }, { cssOnly: true });
    canvas.freeDrawingBrush = new PencilBrush(canvas);
    canvas.upperCanvasEl.dataset.testid = "sketch-canvas";
    canvas.upperCanvasEl.setAttribute("role", "img");
    canvas.upperCanvasEl.setAttribute("aria-label", "Sketch canvas: draw with the mouse, a pen or a finger; strokes search by line structure");
    // Focusable, so the drawing shortcuts (P, E, [, ], Delete, Ctrl+Z) have a place to start from by keyboard.
    canvas.upperCanvasEl.tabIndex = 0;
    canvas.upperCanvasEl.classList.add("focus-visible:outline-2", "focus-visible:outline-ring");
    canvasRef.current = canvas;

    const onPath = (e: { path: FabricObject }) => {
      const path = e.path;
      path.set({ selectable: false, evented: false });
      if (toolRef.current === "eraser") {
        path.set({ globalCompositeOperation: "destination-out", stroke: "#000000" });
        (path as unknown as Record<string, unknown>)[ERASER_MARK] = true;
      }
      added([path]);
    };
    canvas.on("path:created", onPath as (e: unknown) => void);

    return () => {
      canvasRef.current = null;
      void canvas.dispose().finally(() => el.remove());
      host.replaceChildren();
    };
  }, [added]);

  // Brush follows the tool and size.
  useEffect(() => {
    const brush = canvasRef.current?.freeDrawingBrush;
    if (!brush) return;
    brush.width = tool === "eraser" ? size * 3 : size;
    brush.color = tool === "eraser" ? "rgba(244, 63, 94, 0.45)" : "#111111";
  }, [tool, size]);

  // Keyboard shortcuts (ignored while typing in a field).
  useEffect(() => {
    if (!shortcuts) return;
    const onKey = (e: KeyboardEvent) => {
      if (isTyping(e.target)) return;
      const mod = e.ctrlKey || e.metaKey;
      const k = e.key.toLowerCase();
      if (mod && k === "z") {
        e.preventDefault();
        if (e.shiftKey) redo();
        else undo();
      } else if (mod && k === "y") {
        e.preventDefault();
        redo();
      } else if (mod || e.altKey) {
        return;
      } else if (k === "p" || k === "b") setTool("pen");
      else if (k === "e") setTool("eraser");
      else if (k === "[") setSize((s) => Math.max(1, s - 1));
      else if (k === "]") setSize((s) => Math.min(40, s + 1));
      else if (k === "delete") clear();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [undo, redo, clear, shortcuts]);

  // Paste an image anywhere (outside text fields) → example-image query.
  const onImageFileRef = useRef(onImageFile);
  onImageFileRef.current = onImageFile;
  useEffect(() => {
    const onPaste = (e: ClipboardEvent) => {
      const file = firstImageFile(e.clipboardData);
      if (!file) return;
      e.preventDefault();
      onImageFileRef.current(file);
    };
    window.addEventListener("paste", onPaste);
    return () => window.removeEventListener("paste", onPaste);
  }, []);

  const onDrop = (e: React.DragEvent) => {
    e.preventDefault();
    setDragOver(false);
    const file = firstImageFile(e.dataTransfer);
    if (file) return onImageFile(file);
    const url = e.dataTransfer.getData("application/x-clippy-image") || e.dataTransfer.getData("text/uri-list").split("\n")[0];
    if (url) onImageUrl(url.trim());
  };


  return (
    <section aria-label="Sketch" className="flex flex-col gap-2">
      <div role="toolbar" aria-label="Drawing tools" className="flex flex-wrap items-center gap-1">
        <ToolButton label="Pen" tip="Pen (P)" active={tool === "pen"} onClick={() => setTool("pen")}>
          <Brush />
        </ToolButton>
        <ToolButton label="Eraser" tip="Eraser (E)" active={tool === "eraser"} onClick={() => setTool("eraser")}>
          <Eraser />
        </ToolButton>
        <Label htmlFor="brush-size" className="sr-only">
          Brush size
        </Label>
        <BrushSize label="Brush size" id="brush-size" min={1} max={40} step={1} value={size} onChange={setSize} />
        <HistoryButtons
          labels={{ undo: "Undo", redo: "Redo", clear: "Clear canvas" }}
          tips={{ undo: "Undo (Ctrl+Z)", redo: "Redo (Ctrl+Shift+Z)", clear: "Clear (Delete) — undoable" }}
          canUndo={canUndo}
          canRedo={canRedo}
          onUndo={undo}
          onRedo={redo}
          onClear={clear}
        />
      </div>
      <div
        className={cn(
          "sketch-surface relative aspect-square w-full overflow-hidden rounded-lg border bg-white shadow-sm",
          tool === "eraser" ? "cursor-cell" : "cursor-crosshair",
          dragOver && "ring-2 ring-ring ring-offset-2",
        )}
        onDragOver={(e) => {
          e.preventDefault();
          setDragOver(true);
        }}
        onDragLeave={() => setDragOver(false)}
        onDrop={onDrop}
      >
        {underlayUrl && underlayVisible && (
          <AuthImage src={underlayUrl} alt="" aria-hidden className="pointer-events-none absolute inset-0 size-full object-contain opacity-35" />
        )}
        <div ref={hostRef} className="absolute inset-0" />
        {blank && !underlayUrl && !dragOver && (
          <p data-testid="canvas-hint" aria-hidden className="pointer-events-none absolute inset-0 flex flex-col items-center justify-center gap-1 text-sm text-muted-foreground">
            <Brush className="size-5" />
            Draw here
            <span className="text-xs">or drop a picture</span>
          </p>
        )}
        {dragOver && (
          <div className="pointer-events-none absolute inset-0 flex items-center justify-center bg-indigo-50/70 text-sm font-medium text-indigo-700">
            Drop to search by this image
          </div>
        )}
      </div>
      <p className="hidden text-[11px] text-muted-foreground md:block">
        <kbd className="font-mono">P</kbd> pen · <kbd className="font-mono">E</kbd> eraser · <kbd className="font-mono">[</kbd>{" "}
        <kbd className="font-mono">]</kbd> size · <kbd className="font-mono">Ctrl+Z</kbd> undo · <kbd className="font-mono">Ctrl+Shift+Z</kbd> redo ·{" "}
        <kbd className="font-mono">Del</kbd> clear
      </p>
      {underlayUrl && (
        <div className="flex items-center gap-2 text-xs text-muted-foreground">
          <Layers className="size-3.5" aria-hidden />
          <span className="flex-1">Tracing over a result (not part of the query)</span>
          <Button size="sm" variant="ghost" onClick={() => setUnderlayVisible((v) => !v)} aria-pressed={underlayVisible}>
            {underlayVisible ? "Hide" : "Show"}
          </Button>
          <Button size="icon-sm" variant="ghost" aria-label="Remove underlay" onClick={onClearUnderlay}>
            <X />
          </Button>
        </div>
      )}
    </section>
  );
}
