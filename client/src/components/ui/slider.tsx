import { Slider as SliderPrimitive } from "radix-ui";
import * as React from "react";
import { cn } from "@/lib/utils";

function Slider({ className, ...props }: React.ComponentProps<typeof SliderPrimitive.Root>) {
  const values = props.value ?? props.defaultValue ?? [0];
  return (
    <SliderPrimitive.Root
      data-slot="slider"
      className={cn("relative flex w-full touch-none select-none items-center py-1.5 data-[disabled]:opacity-50", className)}
      {...props}
    >
      <SliderPrimitive.Track className="relative h-1.5 w-full grow overflow-hidden rounded-full bg-secondary">
        <SliderPrimitive.Range className="absolute h-full bg-primary" />
      </SliderPrimitive.Track>
      {values.map((_, i) => (
        // The thumb (role=slider) carries the name and description. On a touch screen it is a
        // 44 px target around the same 16 px dot (drawn by ::before).
        <SliderPrimitive.Thumb
          key={i}
          aria-label={props["aria-label"]}
          aria-describedby={props["aria-describedby"]}
          className={cn(
            "block size-4 rounded-full border-2 border-primary bg-background shadow transition-colors focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring disabled:pointer-events-none",
            "max-md:relative max-md:size-11 max-md:border-0 max-md:bg-transparent max-md:shadow-none",
            "max-md:before:absolute max-md:before:inset-[14px] max-md:before:rounded-full max-md:before:border-2 max-md:before:border-primary max-md:before:bg-background max-md:before:shadow max-md:before:content-['']",
          )}
        />
      ))}
    </SliderPrimitive.Root>
  );
}

export { Slider };
