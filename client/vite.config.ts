import { fileURLToPath, URL } from "node:url";
import tailwindcss from "@tailwindcss/vite";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// The API the dev server proxies to (`npm run dev`); override with CLIPPY_API.
const api = process.env.CLIPPY_API ?? "http://127.0.0.1:8000";
const apiPaths = ["/search", "/image", "/thumb", "/atlas", "/info", "/healthz", "/images", "/libraries", "/jobs", "/generated", "/stories", "/storyboards", "/docs", "/openapi.json"];

export default defineConfig({
  plugins: [react(), tailwindcss()],
  resolve: {
    alias: { "@": fileURLToPath(new URL("./src", import.meta.url)) },
  },
  server: {
    proxy: Object.fromEntries(apiPaths.map((p) => [p, { target: api, changeOrigin: true }])),
  },
  build: {
    chunkSizeWarningLimit: 1024,
  },
  test: {
    // e2e/*.contract.mjs: the mock API against the OpenAPI document (the browser tests run with node --test).
    include: ["src/**/*.test.ts", "e2e/**/*.contract.mjs"],
    environment: "node",
  },
});
