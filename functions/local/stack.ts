import { join } from 'node:path';
import type { S3Event } from 'aws-lambda';
import { readAwsConfig } from '#adapters/aws-runtime.ts';
import { S3ObjectStore, SqsJobQueue } from '#adapters/index.ts';
import {
  createDetailedQueues,
  type DetailedWorker,
  type LocalClients,
  localClients,
  SqsPoller,
} from '#emulators/index.ts';
import { searchIndexFile } from '#emulators/sqlite-search-index.ts';
import { ConfigError, ENV, type Env } from '#engine/index.ts';
import { type DetailedJob, inputKeyFor, keyLayout } from '#engine/pipeline/index.ts';
import { asksQuestions } from '#engine/questions/index.ts';
import type { DescriptionRecord } from '#engine/record/index.ts';
import { localHybridSearch } from '#engine/search/index.ts';
import { openQueryEmbedder } from '#engine/search/query-embedder.ts';
import { readUploadApiConfig } from '../aws/upload-api-handler.ts';
import { ChildWorker, STOP_GRACE_MS } from './child-worker.ts';
import { DescriptionsMirror } from './descriptions-mirror.ts';
import {
  type LocalFunctionsConfig,
  type LocalHandlers,
  localHandlers,
  type ModelWaiters,
} from './handlers.ts';
import { startLocalHttp } from './http-server.ts';
import { InboxWatcher } from './inbox.ts';
import { ModelStatus } from './model-status.ts';
import type { LocalOptions } from './options.ts';
import { RecordLister } from './records.ts';
import { type RequeueSummary, requeueUnfinished, waitingFor } from './requeue.ts';
import { AsyncInvoker, notificationFor } from './s3-notifications.ts';
import { openLocalSearch, type SearchIndexEvent } from './search-indexes.ts';
import { startEmbeddedS3, startEmbeddedSqs } from './servers.ts';
import { type KeptAside, UnreadableRecords } from './unreadable-records.ts';

export type StackEvent =
  /** `name`: what a person calls the file (its original name, not the server-made key). */
  | { type: 'uploaded'; key: string; name: string }
  /** `file`: the readable copy in `<data dir>/descriptions/`. */
  | { type: 'sidecar'; key: string; record: DescriptionRecord; name?: string; file?: string }
  | { type: 'requeued'; summary: RequeueSummary; reason: 'start' | 'models-ready' }
  | { type: 'models-ready' }
  /** The search index file was missing or unusable: rebuilt from the sidecars before the page opens. */
  | SearchIndexEvent
  /** A stored description that could not be read was kept aside (the image is described again). */
  | ({ type: 'kept-aside' } & KeptAside)
  | { type: 'error'; where: string; error: unknown };

export interface LocalStack {
  readonly webUrl: string;
  readonly s3Endpoint: string;
  readonly sqsEndpoint: string;
  readonly bucket: string;
  readonly queueUrl: string;
  readonly dlqUrl: string;
  readonly s3: LocalClients['s3'];
  readonly sqs: LocalClients['sqs'];
  readonly invoker: AsyncInvoker;
  /** The current detailed worker (replaced by restartWorker). */
  readonly worker: DetailedWorker;
  readonly inbox: InboxWatcher | undefined;
  /** What `GET /models/status` reports: ready, downloading (fed by the caller) or missing. */
  readonly models: ModelStatus;
  /** Crash the detailed worker mid-batch and start a fresh one (soak bench). */
  restartWorker(options?: { crash?: boolean }): Promise<void>;
  /** Run the start-up scan again. */
  requeue(reason?: 'start' | 'models-ready'): Promise<RequeueSummary>;
  /**
   * Web server and inbox first (nothing new comes in), then the worker and the fast invoker at the
   * same time, given STOP_GRACE_MS to finish the image in hand (else the job goes back to the queue,
   * or to the next start's scan), then the clients, fauxqs and s3rver: every port is free when it
   * resolves.
   */
  stop(): Promise<void>;
}

/**
 * The environment the Lambda functions get from infra/, pointed at the embedded servers: the stack
 * reads its functions' config from it with the readers the deployed modules use (nothing is
 * written to `process.env`). The user's own settings (OCR_STAGE, ORT_THREADS…) come with `base`.
 */
export function localEnvironment(
  options: LocalOptions,
  endpoints: { s3: string; sqs: string; queueUrl: string },
  base: Env = process.env,
): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {
    ...base,
    AWS_ENDPOINT_URL_S3: endpoints.s3,
    AWS_ENDPOINT_URL_SQS: endpoints.sqs,
    [ENV.BUCKET_NAME]: options.bucket,
    [ENV.INPUT_PREFIX]: options.inputPrefix,
    [ENV.SIDECAR_PREFIX]: options.sidecarPrefix,
    [ENV.DETAILED_QUEUE_URL]: endpoints.queueUrl,
  };
  if (options.modelsDir) env[ENV.MODELS_DIR] = options.modelsDir;
  if (options.questionsFile) env[ENV.QUESTIONS_CONFIG] = options.questionsFile;
  if (options.uploadMaxBytes) env[ENV.UPLOAD_MAX_BYTES] = String(options.uploadMaxBytes);
  return env;
}

/** The functions' config, read once from the local environment by the deployed modules' readers. */
export function localFunctionsConfig(options: LocalOptions, env: Env): LocalFunctionsConfig {
  return {
    fast: readAwsConfig(env, 'fast'),
    detailed: readAwsConfig(env, 'detailed'),
    uploadApi: readUploadApiConfig(env),
    // EMF lines and info logs on a laptop are noise; the handlers' warnings and errors still print.
    logLevel: env.POWERTOOLS_LOG_LEVEL ?? (options.interactive ? 'WARN' : 'ERROR'),
  };
}

/**
 * `npm start` without the printing: S3 (s3rver, on disk) and SQS (fauxqs) on loopback, the bucket
 * and the detailed queue + DLQ, the Lambda handlers wired to them exactly as in AWS (object
 * created → fast handler; queue → detailed worker with batch size, visibility timeout and DLQ;
 * the upload API behind the HTTP adapter), the web page, the inbox watcher, and the start-up scan
 * that re-queues whatever a previous run left unfinished.
 */
export async function startLocalStack(
  options: LocalOptions,
  hooks: { onEvent?: (event: StackEvent) => void; handlers?: LocalHandlers } = {},
): Promise<LocalStack> {
  const emit = hooks.onEvent ?? (() => undefined);
  const layout = keyLayout({ inputPrefix: options.inputPrefix, sidecarPrefix: options.sidecarPrefix });
  const closers: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  };

  try {
    const s3Server = await startEmbeddedS3({
      host: options.host,
      port: options.s3Port,
      dataDir: options.dataDir,
      bucket: options.bucket,
      onCorrupt: ({ file, keptAs, reason }) => emit({ type: 'kept-aside', stored: file, keptAs, reason }),
    });
    closers.push(() => s3Server.close());
    const sqsServer = await startEmbeddedSqs({ host: options.host, port: options.sqsPort });
    closers.push(() => sqsServer.close());

    const clients = localClients({ s3: s3Server.endpoint, sqs: sqsServer.endpoint });
    const { s3, sqs } = clients;
    closers.push(async () => clients.destroy());
    const store = new S3ObjectStore({ bucket: options.bucket, client: s3 });
    const queues = await createDetailedQueues(sqs, options);
    const detailedQueue = new SqsJobQueue<DetailedJob>({ queueUrl: queues.queueUrl, client: sqs });
    // GET /search: keywords and image vectors in one file, kept current from the sidecar writes
    // below and opened as it is at the next start (rebuilt from the sidecars only when unusable).
    const { index: searchIndex, indexer } = await openLocalSearch({
      file: searchIndexFile(options.dataDir),
      store,
      layout,
      onEvent: emit,
      onSkipped: (key, error) => emit({ type: 'error', where: `search index ${key}`, error }),
      onWarmUpFailed: (error) => emit({ type: 'error', where: 'search index vectors', error }),
    });
    closers.push(async () => searchIndex.close());

    const config = localFunctionsConfig(
      options,
      localEnvironment(options, {
        s3: s3Server.endpoint,
        sqs: sqsServer.endpoint,
        queueUrl: queues.queueUrl,
      }),
    );
    const handlers =
      hooks.handlers ?? (await localHandlers(config, clients, { detailed: !options.workerProcess }));

    const invoker = new AsyncInvoker({
      handler: (event: S3Event) => handlers.describeFast(event),
      concurrency: 1,
      onError: (error) => emit({ type: 'error', where: 'describe-fast', error }),
    });
    let worker: DetailedWorker | undefined;
    // Both get the grace at the same time: one after the other, a busy stop took 3 s + 3 s (+ the
    // worker process's kill margin) and ran into HARD_EXIT_MS before the servers were closed.
    closers.push(async () => {
      await Promise.allSettled([invoker.stop(STOP_GRACE_MS), worker?.stop(STOP_GRACE_MS)]);
    });

    const waitTimeSeconds = options.interactive ? 10 : 1;
    const onWorkerError = (error: unknown) => emit({ type: 'error', where: 'describe-detailed', error });
    const newWorker = async (): Promise<DetailedWorker> => {
      if (options.workerProcess) {
        return ChildWorker.start({
          config: {
            detailed: config.detailed,
            endpoints: { s3: s3Server.endpoint, sqs: sqsServer.endpoint },
            queueUrl: queues.queueUrl,
            batchSize: options.batchSize,
            waitTimeSeconds,
            logLevel: config.logLevel,
          },
          onError: onWorkerError,
        });
      }
      const describeDetailed = handlers.describeDetailed;
      if (!describeDetailed)
        throw new ConfigError('Expected the detailed handler in this process but it was not loaded');
      return new SqsPoller({
        sqs,
        queueUrl: queues.queueUrl,
        queueArn: queues.queueArn,
        batchSize: options.batchSize,
        handler: describeDetailed,
        waitTimeSeconds,
        onError: onWorkerError,
      }).start();
    };
    worker = await newWorker();
    const currentWorker = (): DetailedWorker => worker as DetailedWorker;

    const inbox = options.inboxDir
      ? new InboxWatcher({
          dir: options.inboxDir,
          store,
          inputPrefix: options.inputPrefix,
          sidecarPrefix: options.sidecarPrefix,
          maxBytes: config.fast.engine.maxInputBytes,
          onError: (error, path) => emit({ type: 'error', where: `inbox ${path}`, error }),
        })
      : undefined;

    const settings = config.fast.engine;
    const models = new ModelStatus(settings.modelsDir, { questionsAsked: asksQuestions(settings.questions) });
    const descriptions = new DescriptionsMirror({
      dir: join(options.dataDir, 'descriptions'),
      store,
      inputPrefix: options.inputPrefix,
    });

    // Armed by a sidecar (or the start-up scan) that waits for models; the check below re-scans
    // once the models it waits for are there.
    const waiting = { stages: false, answers: false };
    const arm = (found: ModelWaiters) => {
      waiting.stages ||= found.stages;
      waiting.answers ||= found.answers;
    };
    const unreadable = new UnreadableRecords({
      store,
      layout,
      bucket: options.bucket,
      describeAgain: (event) => invoker.invoke(event),
      onKeptAside: (kept) => emit({ type: 'kept-aside', ...kept }),
    });
    // Real S3 → Lambda: only ObjectCreated under the input prefix reaches the fast handler. The
    // sidecar writes are observed too, for the console, the mirror and the offline case.
    s3Server.onEvent((event) => {
      const notification = notificationFor(event, options.inputPrefix);
      if (notification) {
        for (const r of event.Records) {
          const key = r.s3.object.key;
          void descriptions.nameFor(key).then((name) => emit({ type: 'uploaded', key, name }));
        }
        invoker.invoke(notification);
      }
      for (const r of event.Records) {
        const key = r.s3.object.key;
        if (r.eventName.startsWith('ObjectRemoved:') && key.startsWith(options.sidecarPrefix))
          indexer.remove(key);
        if (!r.eventName.startsWith('ObjectCreated:') || !key.startsWith(options.sidecarPrefix)) continue;
        if (unreadable.isKeptAside(key)) {
          void unreadable
            .keptAside(key)
            .catch((error) => emit({ type: 'error', where: `sidecar ${key}`, error }));
          continue;
        }
        void indexer.update(key);
        void onSidecar(key).catch((error) => emit({ type: 'error', where: `sidecar ${key}`, error }));
      }
    });
    const onSidecar = async (key: string) => {
      const read = await unreadable.read(key);
      if (!read) return;
      const { record, json } = read;
      arm(waitingFor(record));
      const inputKey = inputKeyFor(layout, key) ?? record.source.key;
      // Under s3rver's internal names a description is hard to find: keep a copy by original name.
      const file = inputKey
        ? await descriptions.write(inputKey, json).catch((error: unknown) => {
            emit({ type: 'error', where: `description copy of ${inputKey}`, error });
            return undefined;
          })
        : undefined;
      const name = inputKey ? await descriptions.nameFor(inputKey) : undefined;
      emit({ type: 'sidecar', key, record, name, file });
      if (options.mirror && inbox && inputKey) await inbox.mirror(inputKey, json);
    };

    const requeue = async (reason: 'start' | 'models-ready' = 'start') => {
      const summary = await requeueUnfinished(
        handlers.store,
        layout,
        options.bucket,
        await handlers.currentModels(),
        {
          fast: (event) => invoker.invoke(event),
          detailed: (job) => detailedQueue.send(job),
        },
      );
      // At start, anything waiting arms the model check; after models-ready it was just re-queued.
      if (reason === 'start') arm({ stages: summary.waiting > 0, answers: summary.waitingAnswers > 0 });
      emit({ type: 'requeued', summary, reason });
      return summary;
    };

    // Offline start: once the model files appear, describe what waited for them.
    let checking = false;
    const modelTimer = setInterval(() => {
      if (!(waiting.stages || waiting.answers) || checking) return;
      checking = true;
      void handlers
        .modelsReady({ ...waiting })
        .then(async (ready) => {
          if (!ready || !(waiting.stages || waiting.answers)) return;
          // The scan re-queues every waiter; what still waits afterwards re-arms from its sidecar.
          waiting.stages = false;
          waiting.answers = false;
          emit({ type: 'models-ready' });
          await requeue('models-ready');
        })
        .catch((error) => emit({ type: 'error', where: 'model check', error }))
        .finally(() => {
          checking = false;
        });
    }, options.modelRecheckMs);
    modelTimer.unref();
    closers.push(async () => clearInterval(modelTimer));

    const lister = new RecordLister({
      store,
      inputPrefix: options.inputPrefix,
      sidecarPrefix: options.sidecarPrefix,
    });
    // The query's text tower, in this process (the image tower runs in the fast stage's).
    const queryModels = await openQueryEmbedder(options.modelsDir ?? settings.modelsDir, settings.threads);
    closers.push(async () => queryModels.models?.dispose());
    const http = await startLocalHttp({
      host: options.host,
      port: options.httpPort,
      uploadApi: handlers.uploadApi,
      records: lister,
      search: localHybridSearch(searchIndex, searchIndex.vectors, queryModels.embedder),
      store,
      inputPrefix: options.inputPrefix,
      models,
      onError: (error, req) => emit({ type: 'error', where: `http ${req.method} ${req.url}`, error }),
    });
    s3Server.allowPage(Number(new URL(http.url).port));
    closers.push(
      () =>
        new Promise<void>((resolve) => {
          http.server.closeAllConnections();
          http.server.close(() => resolve());
        }),
    );

    await requeue('start');
    if (inbox) {
      await inbox.start();
      closers.push(() => inbox.close());
    }

    return {
      webUrl: http.url,
      s3Endpoint: s3Server.endpoint,
      sqsEndpoint: sqsServer.endpoint,
      bucket: options.bucket,
      queueUrl: queues.queueUrl,
      dlqUrl: queues.dlqUrl,
      s3,
      sqs,
      invoker,
      get worker() {
        return currentWorker();
      },
      inbox,
      models,
      restartWorker: async ({ crash = true } = {}) => {
        if (crash) currentWorker().kill();
        else await currentWorker().stop();
        worker = await newWorker();
      },
      requeue,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
