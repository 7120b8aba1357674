import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The audit explorer, served by the gateway at /audit/. Everything is bundled (no CDN); the
 * monitor's node:fs import (used only by its command line) gets a browser stand-in.
 */
export default defineConfig({
  base: '/audit/',
  resolve: {
    alias: { 'node:fs': fileURLToPath(new URL('./src/node-fs-stub.ts', import.meta.url)) },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The polyfill would be the page's only inline script; every browser it targets has modulepreload.
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 1024,
  },
});
