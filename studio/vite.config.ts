import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The build goes into the Python package, which serves it (src/forgeml/server/studio.py):
// the page at every studio route, its files under /static/.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "../src/forgeml/server/studio_dist",
    emptyOutDir: true,
    assetsDir: "static",
    chunkSizeWarningLimit: 1500,
  },
  server: {
    proxy: {
      "/api": "http://127.0.0.1:8080",
      "/openapi.json": "http://127.0.0.1:8080",
      "/endpoints": "http://127.0.0.1:8080",
    },
  },
});
