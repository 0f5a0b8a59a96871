import { Canvas, PencilBrush, type FabricObject, type Path } from "fabric";
import { Brush, Eraser, X } from "lucide-react";
import { useCallback, useEffect, useRef, useState } from "react";
import { AuthImage } from "@/components/AuthImage";
import { BrushSize, HistoryButtons, ToolButton } from "@/components/CanvasTools";
import { Button } from "@/components/ui/button";
import { useCanvasHistory } from "@/hooks/useCanvasHistory";
import { cn } from "@/lib/utils";
import { baseSrc, type EditBase } from "@/state/edit";
import { canvasSizeFor, exportMask, pathPoints, type MaskStroke, type MaskTool } from "@/state/mask";

type Size = { width: number; height: number };

export interface MaskEditorProps {
  base: EditBase;
  /** After each stroke, undo, redo and clear: the mask PNG, or null when nothing is marked. */
  onMaskChange: (mask: string | null) => void;
  onLeave: () => void;
}

const PAINT = "#f43f5e";

/**
 * The base image with a mask layer over it: paint marks what to change, erase takes it back.
 * The layer is drawn opaque and shown at half opacity, so overlapping strokes tint evenly.
 */
export function MaskEditor({ base, onMaskChange, onLeave }: MaskEditorProps) {
  const [baseSize, setBaseSize] = useState<Size | null>(null);
  const [failed, setFailed] = useState(false);
  const src = baseSrc(base);
  return (
    <section aria-label="Edit mask" className="flex flex-col gap-2" data-testid="mask-editor">
      <div className="flex items-center gap-2">
        <h2 className="flex-1 truncate text-sm font-medium">Editing {base.label}</h2>
        <Button size="sm" variant="outline" onClick={onLeave}>
          <X /> Leave edit mode
        </Button>
      </div>
      <MaskLayer baseSize={baseSize} onMaskChange={onMaskChange}>
        <AuthImage
          src={src}
          alt={`Base image: ${base.label}`}
          className="pointer-events-none absolute inset-0 size-full object-fill"
          onLoad={(e) => setBaseSize({ width: e.currentTarget.naturalWidth, height: e.currentTarget.naturalHeight })}
          onError={() => setFailed(true)}
        />
        {failed && <p className="absolute inset-0 flex items-center justify-center p-4 text-center text-sm text-red-700">The base image could not be loaded.</p>}
      </MaskLayer>
      <p className="text-[11px] text-muted-foreground">
        Paint over what to change (white in the mask); the rest is kept. Without a mask the whole image is reworked (img2img).
      </p>
    </section>
  );
}

interface MaskLayerProps {
  /** The base image's natural size, once it has loaded; the layer is drawn at its aspect. */
  baseSize: Size | null;
  onMaskChange: (mask: string | null) => void;
  /** The base image, shown under the layer. */
  children: React.ReactNode;
}

function MaskLayer({ baseSize, onMaskChange, children }: MaskLayerProps) {
  const hostRef = useRef<HTMLDivElement>(null);
  const canvasRef = useRef<Canvas | null>(null);
  const strokesRef = useRef(new WeakMap<FabricObject, MaskStroke>());
  const [tool, setTool] = useState<MaskTool>("paint");
  const [size, setSize] = useState(32);
  const toolRef = useRef(tool);
  toolRef.current = tool;
  const onChangeRef = useRef(onMaskChange);
  onChangeRef.current = onMaskChange;
  const logical = baseSize ? canvasSizeFor(baseSize) : null;
  const width = logical?.width;
  const height = logical?.height;

  const emit = useCallback(() => {
    const canvas = canvasRef.current;
    if (!canvas || !baseSize) return;
    const strokes = canvas.getObjects().flatMap((o) => strokesRef.current.get(o) ?? []);
    const mask = exportMask({ width: canvas.width, height: canvas.height, strokes }, baseSize);
    onChangeRef.current(mask?.dataUrl ?? null);
  }, [baseSize]);

  const { added, undo, redo, clear, canUndo, canRedo } = useCanvasHistory(canvasRef, emit);

  // As in SketchCanvas: Fabric gets an element of its own, so StrictMode's double mount is safe.
  useEffect(() => {
    const host = hostRef.current;
    if (!host || !width || !height) return;
    const el = document.createElement("canvas");
    host.appendChild(el);
    const canvas = new Canvas(el, { width, height, isDrawingMode: true, selection: false, enablePointerEvents: true });
    canvas.setDimensions({ width: "100%", height: "100%" }, { cssOnly: true });
    canvas.freeDrawingBrush = new PencilBrush(canvas);
    canvas.upperCanvasEl.dataset.testid = "mask-canvas";
    canvas.upperCanvasEl.setAttribute("role", "img");
    canvas.upperCanvasEl.setAttribute("aria-label", "Mask layer: paint over the part of the image to change");
    canvasRef.current = canvas;
    const strokes = strokesRef.current;
    const onPath = (e: { path: Path }) => {
      const path = e.path;
      path.set({ selectable: false, evented: false });
      const t = toolRef.current;
      // Erase cuts through what is painted, fully: the preview colour's alpha must not carry over.
      if (t === "erase") path.set({ globalCompositeOperation: "destination-out", stroke: "#000000" });
      strokes.set(path, { tool: t, width: path.strokeWidth, points: pathPoints(path.path) });
      added([path]);
    };
    canvas.on("path:created", onPath as (e: unknown) => void);
    return () => {
      canvasRef.current = null;
      void canvas.dispose().finally(() => el.remove());
      host.replaceChildren();
    };
  }, [added, width, height]);

  useEffect(() => {
    const brush = canvasRef.current?.freeDrawingBrush;
    if (!brush) return;
    brush.width = size;
    brush.color = tool === "erase" ? "rgba(255, 255, 255, 0.9)" : PAINT;
  }, [tool, size, width, height]);

  return (
    <>
      <div role="toolbar" aria-label="Mask tools" className="flex flex-wrap items-center gap-1">
        <ToolButton label="Paint mask" active={tool === "paint"} onClick={() => setTool("paint")}>
          <Brush />
        </ToolButton>
        <ToolButton label="Erase mask" active={tool === "erase"} onClick={() => setTool("erase")}>
          <Eraser />
        </ToolButton>
        <BrushSize label="Mask brush size" min={4} max={120} step={2} value={size} onChange={setSize} />
        <HistoryButtons
          labels={{ undo: "Undo mask stroke", redo: "Redo mask stroke", clear: "Clear mask" }}
          tips={{ clear: "Clear the mask — undoable" }}
          canUndo={canUndo}
          canRedo={canRedo}
          onUndo={undo}
          onRedo={redo}
          onClear={clear}
        />
      </div>
      <div
        className="relative w-full overflow-hidden rounded-lg border bg-muted shadow-sm"
        style={{ aspectRatio: baseSize ? `${baseSize.width} / ${baseSize.height}` : "1 / 1" }}
      >
        {children}
        <div ref={hostRef} className={cn("absolute inset-0 opacity-50", tool === "erase" ? "cursor-cell" : "cursor-crosshair")} />
      </div>
    </>
  );
}
