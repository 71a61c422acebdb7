import { build } from 'esbuild';

/**
 * `npm run build`: the entry points people run, as plain JavaScript in dist/app/ (the CLI, `npm
 * start` and its worker process), so that starting one costs no TypeScript compiler. Code shared
 * by several entries, and every command a CLI run does not use, goes into chunks loaded on demand.
 * Native and large packages stay in node_modules. Plain JavaScript itself, so it runs without tsx.
 * The Lambda bundles are built by functions/aws/bundle.ts (`npm run bundle`).
 */
const EXTERNALS = [
  'sharp',
  'onnxruntime-node',
  'onnxruntime-web',
  '@huggingface/transformers',
  's3rver',
  'fauxqs',
  'chokidar',
];

await build({
  entryPoints: {
    cli: 'functions/cli/main.ts',
    start: 'functions/local/start.ts',
    'worker-process': 'functions/local/worker-process.ts',
  },
  outdir: 'dist/app',
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  external: EXTERNALS,
  // CommonJS dependencies inside an ESM bundle still call require() for Node built-ins.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
});
