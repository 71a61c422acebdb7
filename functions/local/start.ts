import '../node-support.ts';
import { relative } from 'node:path';
import { DescribeError } from '#engine/errors.ts';
import { ensureModels } from './models-step.ts';
import { readLocalOptions, USAGE } from './options.ts';
import { type StackEvent, startLocalStack } from './stack.ts';

/**
 * `npm start`: the whole pipeline on this machine. Prints one line per thing a user cares about
 * (an upload arrived, a caption or description was written, something failed) — the handlers'
 * own JSON logs are kept to warnings.
 */
function printer() {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  return (event: StackEvent) => {
    switch (event.type) {
      case 'uploaded':
        out(`↑ ${event.key}`);
        break;
      case 'sidecar': {
        const r = event.record;
        const where = r.source.key ?? event.key;
        if (r.status.fast.state === 'failed') {
          out(`✗ ${where}: ${r.errors.fast?.message ?? 'failed'} (${r.errors.fast?.code ?? '?'})`);
        } else if (r.status.detailed.state === 'done') {
          out(`✓ ${where}: ${r.detailedDescription ?? ''}`);
        } else if (r.status.detailed.state === 'failed') {
          out(`✗ ${where} detailed: ${r.errors.detailed?.message ?? 'failed'}`);
        } else if (r.status.fast.state === 'waiting-for-models' && r.status.detailed.state === 'pending') {
          const colours = (r.colours ?? []).map((c) => c.name).join(', ');
          out(`… ${where}: colours ${colours}; caption waits for the models`);
        } else if (r.status.fast.state === 'done') {
          out(`• ${where}: ${r.caption ?? ''}`);
        }
        break;
      }
      case 'requeued':
        if (event.summary.fast + event.summary.detailed > 0) {
          const why = event.reason === 'start' ? 'left unfinished by the last run' : 'that waited for models';
          out(`↻ re-queued ${event.summary.fast} fast and ${event.summary.detailed} detailed ${why}`);
        }
        break;
      case 'models-ready':
        out('✓ models found: describing what waited for them');
        break;
      case 'error': {
        const message = event.error instanceof Error ? event.error.message : String(event.error);
        process.stderr.write(`! ${event.where}: ${message}\n`);
        break;
      }
    }
  };
}

async function main(): Promise<void> {
  const options = readLocalOptions(process.argv.slice(2));
  if (options === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const models = await ensureModels(options);
  const stack = await startLocalStack(options, { onEvent: printer() });
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
      `  SQS (fauxqs)           ${stack.sqsEndpoint}  queue ${stack.queueUrl.split('/').pop()} (+ DLQ)`,
      options.inboxDir
        ? `  inbox                  ${shown(options.inboxDir)}/ → ${options.inputPrefix}${options.mirror ? ' (sidecars mirrored beside the files)' : ''}`
        : '  inbox                  off',
      `  models                 ${models.dir}${models.ready ? '' : '  — NOT INSTALLED: captions wait (see above)'}`,
      '',
      'Press Ctrl+C to stop; uploads and descriptions are kept for the next start.',
      '',
    ].join('\n'),
  );
  let stopping = false;
  const stop = async () => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stdout.write('\nstopping…\n');
    await stack.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
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
