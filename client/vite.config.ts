import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

// Run from the repo root: `npx vite build --config client/vite.config.ts`.
const root = decodeURIComponent(new URL('.', import.meta.url).pathname);
const backend = 'http://localhost:3000';

export default defineConfig({
  root,
  plugins: [svelte()],
  build: {
    outDir: '../dist/client',
    emptyOutDir: true,
    // The server's CSP allows no inline scripts or styles: keep every asset a file.
    assetsInlineLimit: 0,
    cssCodeSplit: false,
    // Every supported browser preloads modules itself; the polyfill is dead weight.
    modulePreload: { polyfill: false },
  },
  server: {
    // The client imports ../shared; allow Vite to serve it in dev.
    fs: { allow: ['..'] },
    proxy: {
      '/api': backend,
      '/healthz': backend,
      '/socket.io': { target: backend, ws: true },
      '/collab': { target: backend, ws: true },
    },
  },
});
