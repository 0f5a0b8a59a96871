import { ImageUp, PencilLine, SlidersHorizontal, Type } from "lucide-react";
import { Fragment } from "react";
import { VIEW_COLOR } from "@/components/QueryPanel";
import { WEIGHT_LABELS, type WeightKey } from "@/state/query";

const WAYS = [
  {
    icon: PencilLine,
    title: "Draw",
    text: "Sketch on the canvas: a few strokes are enough. Matches the lines and the outline of what you draw.",
  },
  {
    icon: Type,
    title: "Type",
    text: "Describe it in the prompt under the canvas (“a cat in pop art style”) and press Enter. Matches look, caption and tags.",
  },
  {
    icon: ImageUp,
    title: "Drop an image",
    text: "Drop or paste a picture on the canvas, or choose a file, to find images like it.",
  },
] as const;

const SLIDERS: readonly WeightKey[] = ["wImg", "wEdge", "wShape", "wTxt", "wTags"];

/**
 * What the results column shows while there is nothing to search by (first load, or after
 * clearing): the three ways to start and what the sliders do, so the wide column beside the
 * canvas explains the tool instead of standing empty. Static text only: it adds no tab stops
 * between the prompt and the first result, and it is not a live region (it would be read out
 * whole each time the inputs are cleared; the results summary above already announces).
 * Its columns follow its own width (container queries): the results column is narrow at
 * 1024 px and on tablets even where the viewport is wide.
 */
export function StartPanel() {
  return (
    <div data-testid="start-panel" className="@container mx-auto flex max-w-3xl flex-col gap-6 px-1 py-8 md:py-12">
      <div className="flex flex-col items-center gap-2 text-center">
        <PencilLine className="size-8 text-muted-foreground" aria-hidden />
        <h2 className="text-lg font-semibold">Draw, type or drop an image to search</h2>
        <p className="max-w-xl text-sm text-muted-foreground">Three ways to ask; mix them freely. Results appear here as you go, best match first.</p>
      </div>
      <ol className="grid gap-3 @xl:grid-cols-3" aria-label="Ways to search">
        {WAYS.map(({ icon: Icon, title, text }, i) => (
          <li key={title} className="flex flex-col gap-1.5 rounded-lg border bg-background p-4 shadow-sm">
            <div className="flex items-center gap-2 font-medium">
              <span className="flex size-6 items-center justify-center rounded-full bg-primary text-xs text-primary-foreground" aria-hidden>
                {i + 1}
              </span>
              <Icon className="size-4 text-muted-foreground" aria-hidden />
              <h3 className="text-sm">{title}</h3>
            </div>
            <p className="text-sm text-muted-foreground">{text}</p>
          </li>
        ))}
      </ol>
      <section aria-labelledby="start-sliders-h" className="rounded-lg border bg-background p-4 shadow-sm">
        <h3 id="start-sliders-h" className="flex items-center gap-2 text-sm font-medium">
          <SlidersHorizontal className="size-4 text-muted-foreground" aria-hidden />
          What the sliders do
        </h3>
        <p className="mt-1 text-sm text-muted-foreground">
          The Search tab weighs five views of each image. A slider stays off until its input is there; the presets set them all at once.
        </p>
        <dl className="mt-3 grid gap-x-6 gap-y-2 text-sm @sm:grid-cols-[auto_1fr]">
          {SLIDERS.map((k) => (
            <Fragment key={k}>
              <dt className="flex items-center gap-1.5 font-medium">
                <span className={`size-2 rounded-full ${VIEW_COLOR[k]}`} aria-hidden />
                {WEIGHT_LABELS[k].label}
              </dt>
              <dd className="text-muted-foreground @max-sm:mb-1">{WEIGHT_LABELS[k].hint}</dd>
            </Fragment>
          ))}
        </dl>
      </section>
    </div>
  );
}
