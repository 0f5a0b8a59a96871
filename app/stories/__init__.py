"""Stories: image → story (a vision-language model, local or Gemini) and story → storyboard.

* `base.py` — the `StoryProvider` interface (template method: bounded lazy load, timing,
  idle unload) and `factory.py` to build one by name (STORY_PROVIDER);
* `vlm.py` — any transformers image-text-to-text model through its chat template;
* `gemini.py` — Gemini through the google-genai client (app/generation/google.py);
* `parse.py` — the model's answer → a structured `Story` (JSON when it gives JSON, a plain
  text answer still makes a story).
"""
