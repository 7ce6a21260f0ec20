import { defineConfig } from 'vite'

// The dashboard is built into <repo>/dist/dashboard, which the gateway serves at `/` (REST under
// /api and socket.io on the same origin, so every URL in the dashboard is relative).
const root = decodeURIComponent(new URL('.', import.meta.url).pathname)

export default defineConfig({
  root,
  base: './',
  publicDir: false,
  build: {
    outDir: `${root}../dist/dashboard`,
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    chunkSizeWarningLimit: 400,
  },
  server: {
    // For development against a running gateway: `vite --config dashboard/vite.config.ts`.
    proxy: {
      '/api': 'http://127.0.0.1:8080',
      '/socket.io': { target: 'ws://127.0.0.1:8080', ws: true },
    },
  },
})
