import {
  AthenaClient,
  GetQueryExecutionCommand,
  type GetQueryExecutionCommandOutput,
  GetQueryResultsCommand,
  type GetQueryResultsCommandOutput,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import type { SqlRow, SqlRunner } from '#engine/ports.ts';
import {
  SEARCH_RETRY_AFTER_SECONDS,
  SearchBusyError,
  SearchFailedError,
  SearchScanLimitError,
  SearchTimeoutError,
} from '#engine/search/athena-engine.ts';
import { executionParameters, type SqlParam } from '#engine/search/athena-sql.ts';
import { type AwsClientOptions, awsClientConfig } from './aws-config.ts';

export interface AthenaSqlRunnerOptions extends AwsClientOptions {
  readonly workGroup: string;
  readonly database: string;
  /** Share one client per process; created from the options when absent. */
  readonly client?: AthenaClient;
  /**
   * The longest the runner waits for a query before stopping it (SearchTimeoutError). Under the
   * Lambda timeout and API Gateway's 30 s, so the caller gets a clear 504 instead of a cut connection.
   * @default 20_000
   */
  readonly deadlineMs?: number;
  /** Time between GetQueryExecution polls. @default 200 */
  readonly pollMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

export const DEFAULT_SEARCH_DEADLINE_MS = 20_000;
/** Athena's wording when BytesScannedCutoffPerQuery cancels a query. */
const SCAN_LIMIT = /bytes?\s+scanned\s+limit|BytesScannedCutoff/i;

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Error names Athena and the SDK use for "too many requests for now" (after the SDK's retries). */
const THROTTLED = new Set([
  'TooManyRequestsException',
  'ThrottlingException',
  'ThrottledException',
  'RequestLimitExceeded',
  'SlowDown',
]);

function isThrottled(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const meta = error as Error & {
    $retryable?: { throttling?: boolean };
    $metadata?: { httpStatusCode?: number };
  };
  return (
    THROTTLED.has(error.name) ||
    meta.$retryable?.throttling === true ||
    meta.$metadata?.httpStatusCode === 429
  );
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError');
}

/** The `detail` a search error carries for programs and the operator: the query execution id. */
function executionDetail(id: string | undefined): { detail?: string } {
  return id ? { detail: `queryExecutionId=${id}` } : {};
}

/** A StopQueryExecution after the deadline gets this long of its own. */
const STOP_TIMEOUT_MS = 2000;

/**
 * The SqlRunner port on Athena: the only code that calls the Athena API. Starts the statement in
 * the workgroup with ExecutionParameters, polls until it ends or the deadline passes (then stops
 * it), and reads every result page.
 */
export class AthenaSqlRunner implements SqlRunner {
  readonly client: AthenaClient;
  private readonly deadlineMs: number;
  private readonly pollMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;

  constructor(private readonly options: AthenaSqlRunnerOptions) {
    this.client = options.client ?? new AthenaClient(awsClientConfig(options));
    this.deadlineMs = options.deadlineMs ?? DEFAULT_SEARCH_DEADLINE_MS;
    this.pollMs = options.pollMs ?? 200;
    this.sleep = options.sleep ?? pause;
    this.now = options.now ?? Date.now;
  }

  async run(statement: {
    sql: string;
    params: readonly SqlParam[];
  }): Promise<{ rows: SqlRow[]; bytesScanned?: number }> {
    const started = this.now();
    // Every SDK call (and its retries) ends with the deadline, so none runs past the Lambda timeout.
    const signal = AbortSignal.timeout(this.deadlineMs);
    let id: string | undefined;
    try {
      const start = await this.client.send(
        new StartQueryExecutionCommand({
          QueryString: statement.sql,
          WorkGroup: this.options.workGroup,
          QueryExecutionContext: { Database: this.options.database },
          // Athena wants at least one parameter when the list is given.
          ...(statement.params.length > 0
            ? { ExecutionParameters: executionParameters(statement.params) }
            : {}),
        }),
        { abortSignal: signal },
      );
      id = start.QueryExecutionId;
      if (!id) throw new SearchFailedError('Athena started no query (no QueryExecutionId)');
      const execution = await this.waitFor(id, started, signal);
      const bytesScanned = execution.QueryExecution?.Statistics?.DataScannedInBytes;
      return { rows: await this.readRows(id, signal), bytesScanned };
    } catch (error) {
      if (isAbort(error) && signal.aborted) {
        if (id) await this.stop(id);
        throw new SearchTimeoutError(
          `The search did not finish within ${this.deadlineMs} ms${id ? ` (Athena query ${id})` : ''}; it was stopped`,
          { cause: error, ...executionDetail(id) },
        );
      }
      if (isThrottled(error)) {
        throw new SearchBusyError(
          `Athena is busy (too many searches at once); try again in ${SEARCH_RETRY_AFTER_SECONDS} seconds`,
          { cause: error, ...executionDetail(id) },
        );
      }
      throw error;
    }
  }

  /** Stop a query so it scans (and bills) nothing more; a failure to stop must not hide why. */
  private async stop(id: string): Promise<void> {
    await this.client
      .send(new StopQueryExecutionCommand({ QueryExecutionId: id }), {
        abortSignal: AbortSignal.timeout(STOP_TIMEOUT_MS),
      })
      .catch(() => undefined);
  }

  private async waitFor(
    id: string,
    started: number,
    signal: AbortSignal,
  ): Promise<GetQueryExecutionCommandOutput> {
    for (;;) {
      const out = await this.client.send(new GetQueryExecutionCommand({ QueryExecutionId: id }), {
        abortSignal: signal,
      });
      const status = out.QueryExecution?.Status;
      const reason = status?.StateChangeReason ?? status?.AthenaError?.ErrorMessage ?? '';
      switch (status?.State) {
        case 'SUCCEEDED':
          return out;
        case 'FAILED':
        case 'CANCELLED':
          // Athena's reason may quote SQL, table names and S3 paths: it goes in the message, which
          // the API logs and does not return (it answers a fixed sentence and `detail`).
          if (SCAN_LIMIT.test(reason)) {
            throw new SearchScanLimitError(
              "The search would scan more than the workgroup's per-query limit; narrow it with filters or raise bytesScannedCutoffPerQuery",
              executionDetail(id),
            );
          }
          throw new SearchFailedError(
            `Athena query ${id} ${status.State.toLowerCase()}: ${reason || 'no reason given'}`,
            executionDetail(id),
          );
        default:
          break;
      }
      if (this.now() - started + this.pollMs > this.deadlineMs) {
        await this.stop(id);
        throw new SearchTimeoutError(
          `The search did not finish within ${this.deadlineMs} ms (Athena query ${id}, ${status?.State ?? 'unknown'}); it was stopped`,
          executionDetail(id),
        );
      }
      await this.sleep(this.pollMs);
    }
  }

  /** Every page of results; the first row of the first page is the header. */
  private async readRows(id: string, signal: AbortSignal): Promise<SqlRow[]> {
    const rows: SqlRow[] = [];
    let token: string | undefined;
    let columns: string[] | undefined;
    let first = true;
    do {
      const page: GetQueryResultsCommandOutput = await this.client.send(
        new GetQueryResultsCommand({ QueryExecutionId: id, NextToken: token, MaxResults: 1000 }),
        { abortSignal: signal },
      );
      columns ??= (page.ResultSet?.ResultSetMetadata?.ColumnInfo ?? []).map((c) => c.Name ?? '');
      const data = page.ResultSet?.Rows ?? [];
      for (const [index, row] of data.entries()) {
        if (first && index === 0) continue;
        const out: Record<string, string> = {};
        (row.Data ?? []).forEach((datum, i) => {
          const name = columns?.[i];
          if (name && datum.VarCharValue !== undefined) out[name] = datum.VarCharValue;
        });
        rows.push(out as SqlRow);
      }
      first = false;
      token = page.NextToken;
    } while (token);
    return rows;
  }
}
