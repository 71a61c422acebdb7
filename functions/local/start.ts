import '../node-support.ts';
import { join, relative } from 'node:path';
import { DescribeError } from '#engine/index.ts';
import { HARD_EXIT_MS } from './child-worker.ts';
import { formatStackEvent } from './console-printer.ts';
import { ensureModels } from './models-step.ts';
import { readLocalOptions, USAGE } from './options.ts';
import { type LocalStack, type StackEvent, startLocalStack } from './stack.ts';

/** `npm start`: the whole pipeline on this machine; console lines come from console-printer.ts. */
function printer() {
  return (event: StackEvent) => {
    const printed = formatStackEvent(event);
    if (printed) process[printed.stream].write(`${printed.line}\n`);
  };
}

const SIGNAL_CODES: Record<string, number> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

/**
 * Stop on SIGINT, SIGTERM or SIGHUP, and also when the parent goes away: `npm start` runs us under
 * `sh -c`, and on `kill <npm pid>` npm passes the signal to that shell, which exits without passing
 * it on — we are orphaned instead of signalled. A second signal, or a stop that hangs, exits at once.
 */
function stopOnSignals(stack: () => LocalStack | undefined): void {
  let stopping = false;
  const stop = async (why: string) => {
    const code = SIGNAL_CODES[why] ?? 0;
    if (stopping) process.exit(code || 1);
    stopping = true;
    const running = stack();
    // Still starting: nothing to finish; exiting frees the ports, and a worker process follows its parent.
    if (!running) process.exit(code || 1);
    process.stdout.write(`\nstopping (${why})…\n`);
    setTimeout(() => {
      process.stderr.write(`npm start: not stopped after ${HARD_EXIT_MS / 1000} s, exiting anyway\n`);
      process.exit(1);
    }, HARD_EXIT_MS).unref();
    await running.stop();
    process.exit(0);
  };
  for (const signal of Object.keys(SIGNAL_CODES)) process.on(signal, () => void stop(signal));
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) void stop('parent exited');
  }, 250).unref();
}

async function main(): Promise<void> {
  const options = readLocalOptions(process.argv.slice(2));
  if (options === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  let started: LocalStack | undefined;
  stopOnSignals(() => started);
  // The page is up first, so it can show the model state (and a download's progress) at once.
  const stack = await startLocalStack(options, { onEvent: printer() });
  started = stack;
  const modelState = await stack.models.view();
  const shown = (dir: string) => {
    const near = relative(process.cwd(), dir) || '.';
    return near.startsWith('..') ? dir : near;
  };
  process.stdout.write(
    [
      '',
      `image-describer is running on ${options.host}`,
      `  web page + upload API  ${stack.webUrl}`,
      `  S3 (s3rver)            ${stack.s3Endpoint}  bucket ${stack.bucket}, data in ${shown(options.dataDir)}`,
      `  descriptions           ${shown(join(options.dataDir, 'descriptions'))}/<file name>.description.json`,
      `  SQS (fauxqs)           ${stack.sqsEndpoint}  queue ${stack.queueUrl.split('/').pop()} (+ DLQ)`,
      options.inboxDir
        ? `  inbox                  ${shown(options.inboxDir)}/ → ${options.inputPrefix}${options.mirror ? ' (sidecars mirrored beside the files)' : ''}`
        : '  inbox                  off',
      `  models                 ${modelState.modelsDir}${modelState.state === 'ready' ? '' : '  — not installed yet: captions wait (the page shows the state)'}`,
      '',
      'Press Ctrl+C to stop; uploads and descriptions are kept for the next start.',
      '',
    ].join('\n'),
  );
  if (modelState.state !== 'ready') {
    await ensureModels(options, {
      onProgress: (event) => stack.models.onProgress(event),
      onDownloadEnd: () => stack.models.downloadEnded(),
    });
  }
}

main().catch((error: unknown) => {
  const message = error instanceof DescribeError ? `${error.code}: ${error.message}` : String(error);
  process.stderr.write(`npm start failed: ${message}\n`);
  if (error instanceof Error && 'code' in error && error.code === 'EADDRINUSE') {
    process.stderr.write(
      'A port is taken: pick others with --port, --s3-port and --sqs-port (npm start -- --help).\n',
    );
  }
  process.exit(1);
});
