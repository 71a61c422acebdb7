import {
  AthenaClient,
  GetQueryExecutionCommand,
  type GetQueryExecutionCommandOutput,
  GetQueryResultsCommand,
  type GetQueryResultsCommandOutput,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import {
  SearchFailedError,
  SearchScanLimitError,
  SearchTimeoutError,
  type SqlRow,
  type SqlRunner,
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
    );
    const id = start.QueryExecutionId;
    if (!id) throw new SearchFailedError('Athena started no query (no QueryExecutionId)');
    const execution = await this.waitFor(id, started);
    const bytesScanned = execution.QueryExecution?.Statistics?.DataScannedInBytes;
    return { rows: await this.readRows(id), bytesScanned };
  }

  private async waitFor(id: string, started: number): Promise<GetQueryExecutionCommandOutput> {
    for (;;) {
      const out = await this.client.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
      const status = out.QueryExecution?.Status;
      const reason = status?.StateChangeReason ?? status?.AthenaError?.ErrorMessage ?? '';
      switch (status?.State) {
        case 'SUCCEEDED':
          return out;
        case 'FAILED':
        case 'CANCELLED':
          if (SCAN_LIMIT.test(reason)) {
            throw new SearchScanLimitError(
              `The search would scan more than the workgroup's per-query limit (${reason}); narrow it with filters or raise bytesScannedCutoffPerQuery`,
            );
          }
          throw new SearchFailedError(
            `Athena query ${id} ${status.State.toLowerCase()}: ${reason || 'no reason given'}`,
          );
        default:
          break;
      }
      if (this.now() - started + this.pollMs > this.deadlineMs) {
        // Stop it so it scans (and bills) nothing more; a failure to stop must not hide the timeout.
        await this.client
          .send(new StopQueryExecutionCommand({ QueryExecutionId: id }))
          .catch(() => undefined);
        throw new SearchTimeoutError(
          `The search did not finish within ${this.deadlineMs} ms (Athena query ${id}, ${status?.State ?? 'unknown'}); it was stopped`,
        );
      }
      await this.sleep(this.pollMs);
    }
  }

  /** Every page of results; the first row of the first page is the header. */
  private async readRows(id: string): Promise<SqlRow[]> {
    const rows: SqlRow[] = [];
    let token: string | undefined;
    let columns: string[] | undefined;
    let first = true;
    do {
      const page: GetQueryResultsCommandOutput = await this.client.send(
        new GetQueryResultsCommand({ QueryExecutionId: id, NextToken: token, MaxResults: 1000 }),
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
