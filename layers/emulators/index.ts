/**
 * What stands in locally for an AWS service, used only by the local stack (`npm start`) and tests:
 * the loopback S3 and SQS servers' clients and queues, the SQS poller that plays Lambda's event
 * source mapping, and the SQLite search index that plays Athena. Never deployed.
 *
 * The SQLite index (keywords, and the image vectors in the same file) loads better-sqlite3's native
 * code, so it is imported by its own path (see
 * layers/engine/index.ts for the rule).
 */

export { createDetailedQueues, type LocalClients, localClients } from './local-servers.ts';
export { type DetailedWorker, type SqsHandler, SqsPoller } from './sqs-poller.ts';

export const IMPORTED_ON_THEIR_OWN: readonly string[] = ['sqlite-search-index.ts', 'sqlite-vector-index.ts'];
