import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { printEngineBench, runEngineBench } from './engine-bench.ts';

/**
 * `npm run bench`: the engine bench, then the OCR bench when test/bench/ocr-bench.ts exists
 * (imported dynamically so this file does not depend on it). Progress goes to stderr, results to
 * stdout. `npm run bench -- --engine-only` skips OCR; `-- --json` also prints the engine report as JSON.
 */
const engineReport = await runEngineBench();
printEngineBench(engineReport);
if (process.argv.includes('--json')) console.log(JSON.stringify(engineReport));

const ocrBench = fileURLToPath(new URL('./ocr-bench.ts', import.meta.url));
if (!process.argv.includes('--engine-only') && existsSync(ocrBench)) {
  const ocr = (await import(pathToFileURL(ocrBench).href)) as {
    runOcrBench?: () => Promise<unknown>;
    printOcrBench?: (report: never) => void;
  };
  if (typeof ocr.runOcrBench === 'function') {
    console.error('running the OCR bench...');
    const report = await ocr.runOcrBench();
    if (typeof ocr.printOcrBench === 'function') ocr.printOcrBench(report as never);
    else console.log(JSON.stringify(report, null, 2));
  }
}
