// Build-time settings only: every environment-specific value comes from the runtime config
// that Django inlines into index.html (see src/config.ts), so one bundle serves dev, uat, prod.
import { defineConfig } from "vite";

export default defineConfig({
  // Relative asset URLs: the shell's <base href> makes them work under "/" or "/ui/".
  base: "./",
  build: {
    outDir: "dist",
    // Never inline assets as data: URLs, which a strict CSP (img-src 'self') would refuse.
    assetsInlineLimit: 0,
    // The module-preload polyfill is unnecessary for the evergreen browsers we target.
    modulePreload: { polyfill: false },
    // MSAL.js is most of the bundle (about 150 kB gzipped in all); one file is fine here.
    chunkSizeWarningLimit: 700,
    rolldownOptions: {
      onwarn(warning, warn) {
        // react-router's "use client" marker only matters to React Server Components.
        if (warning.code !== "MODULE_LEVEL_DIRECTIVE") warn(warning);
      },
    },
  },
});
