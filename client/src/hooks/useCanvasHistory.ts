import type { Canvas, FabricObject } from "fabric";
import { useCallback, useRef, useState, type RefObject } from "react";
import { emptyHistory, record, redo as redoH, undo as undoH, type History } from "@/state/history";

/** What a drawing canvas can undo: strokes added, or everything cleared at once. */
export type CanvasAction = { kind: "add"; objects: FabricObject[] } | { kind: "clear"; objects: FabricObject[] };

/**
 * Undo, redo and clear for a Fabric canvas whose objects are strokes (the sketch canvas and the
 * mask layer). `emit` runs after every change, with the canvas as it now is.
 */
export function useCanvasHistory(canvasRef: RefObject<Canvas | null>, emit: () => void) {
  const historyRef = useRef<History<CanvasAction>>(emptyHistory());
  // The history lives in a ref (Fabric's handlers read it); this re-renders the buttons.
  const [, setVersion] = useState(0);

  const commit = useCallback(
    (h: History<CanvasAction>) => {
      historyRef.current = h;
      setVersion((v) => v + 1);
      canvasRef.current?.requestRenderAll();
      emit();
    },
    [canvasRef, emit],
  );

  /** A stroke the user just drew. */
  const added = useCallback((objects: FabricObject[]) => commit(record(historyRef.current, { kind: "add", objects })), [commit]);

  const step = useCallback(
    (which: "undo" | "redo") => {
      const canvas = canvasRef.current;
      const s = which === "undo" ? undoH(historyRef.current) : redoH(historyRef.current);
      if (!canvas || !s) return;
      // Undoing an add removes; redoing it adds again. A clear is the other way round.
      if ((s.action.kind === "add") === (which === "redo")) canvas.add(...s.action.objects);
      else canvas.remove(...s.action.objects);
      commit(s.history);
    },
    [canvasRef, commit],
  );
  const undo = useCallback(() => step("undo"), [step]);
  const redo = useCallback(() => step("redo"), [step]);

  const clear = useCallback(() => {
    const canvas = canvasRef.current;
    if (!canvas) return;
    const objects = canvas.getObjects();
    if (objects.length === 0) return;
    canvas.remove(...objects);
    commit(record(historyRef.current, { kind: "clear", objects }));
  }, [canvasRef, commit]);

  const { past, future } = historyRef.current;
  return { added, undo, redo, clear, canUndo: past.length > 0, canRedo: future.length > 0 };
}
