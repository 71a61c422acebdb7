import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  type QueryExecutionState,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { AthenaSqlRunner } from '#adapters/athena-search.ts';
import { keyLayout } from '#engine/pipeline/key-layout.ts';
import {
  createAthenaSearch,
  readAthenaSearchSettings,
  SEARCH_FAILED_MESSAGE,
  SEARCH_RETRY_AFTER_SECONDS,
} from '#engine/search/athena-engine.ts';
import { RESULT_COLUMNS } from '#engine/search/athena-sql.ts';
import { createUploadApiHandler } from '#engine/uploads/http-api.ts';
import { uploadSettings } from '#engine/uploads/settings.ts';
import { apiEvent, bodyOf, MemoryObjectStore, silentLogger } from '../api/support.ts';

const athena = mockClient(AthenaClient);
beforeEach(() => athena.reset());

const TABLE = { database: 'test_search', table: 'descriptions' };

/** A fake clock the runner's sleeps advance, so the deadline is reached without waiting. */
function clock() {
  let t = 0;
  return {
    now: () => t,
    sleep: async (ms: number) => {
      t += ms;
    },
  };
}

function setup(options: { deadlineMs?: number; search?: boolean } = {}) {
  const time = clock();
  const runner = new AthenaSqlRunner({
    workGroup: 'Test-search',
    database: TABLE.database,
    client: new AthenaClient({ region: 'eu-west-1' }),
    deadlineMs: options.deadlineMs ?? 1000,
    pollMs: 100,
    ...time,
  });
  const logger = silentLogger();
  const handler = createUploadApiHandler({
    settings: uploadSettings({ bucket: 'b', layout: keyLayout(), maxBytes: 1000 }),
    store: new MemoryObjectStore(),
    signer: { presignPost: async () => ({ url: 'unused', fields: {} }) },
    logger,
    search: options.search === false ? undefined : createAthenaSearch({ runner, table: TABLE }),
  });
  return { handler, logger };
}

function searchEvent(query: string) {
  return {
    ...apiEvent({ routeKey: 'GET /search', method: 'GET', rawPath: '/search' }),
    rawQueryString: query,
  };
}

const header = { Data: RESULT_COLUMNS.map((name) => ({ VarCharValue: name })) };
function row(values: Partial<Record<(typeof RESULT_COLUMNS)[number], string>>) {
  return {
    Data: RESULT_COLUMNS.map((name) => (values[name] === undefined ? {} : { VarCharValue: values[name] })),
  };
}
const columnInfo = RESULT_COLUMNS.map((Name) => ({ Name, Type: 'varchar' }));

const SIGN = {
  key: 'images/red-sign.png',
  uploaded_at: '2026-11-03T10:00:00.000Z',
  fast_state: 'done',
  detailed_state: 'done',
  caption: 'a red sign with white letters',
  text_full: 'OPEN\n24 HOURS',
  labels_json: '["sign"]',
  category_ids_json: '[]',
  colours_json: '[{"hex":"#e0102f","name":"Red Ribbon","family":"red","fraction":0.72}]',
  answers_text: '',
  total_matches: '2',
};
const CAFE = {
  ...SIGN,
  key: 'images/cafe.jpg',
  uploaded_at: '2026-11-06T10:00:00.000Z',
  caption: 'a café on the corner',
  text_full: 'CAFÉ',
  labels_json: undefined,
  answers_text: 'yes, it looks open',
};

function succeedWith(rows: ReturnType<typeof row>[], states: QueryExecutionState[] = ['SUCCEEDED']) {
  athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
  const execution = athena.on(GetQueryExecutionCommand);
  for (const state of states) {
    execution.resolvesOnce({
      QueryExecution: { Status: { State: state }, Statistics: { DataScannedInBytes: 12_345 } },
    });
  }
  athena
    .on(GetQueryResultsCommand)
    .resolvesOnce({
      ResultSet: { ResultSetMetadata: { ColumnInfo: columnInfo }, Rows: [header, ...rows.slice(0, 1)] },
      NextToken: 'page-2',
    })
    .resolvesOnce({ ResultSet: { ResultSetMetadata: { ColumnInfo: columnInfo }, Rows: rows.slice(1) } });
}

describe('GET /search on Athena', () => {
  it('runs one parameterised query in the workgroup and answers with the shared result shape', async () => {
    const { handler } = setup();
    succeedWith([row(SIGN), row(CAFE)], ['QUEUED', 'RUNNING', 'SUCCEEDED']);

    const result = await handler(searchEvent('q=open'));

    expect(result.statusCode).toBe(200);
    const start = athena.commandCalls(StartQueryExecutionCommand)[0]?.args[0].input;
    expect(start?.WorkGroup).toBe('Test-search');
    expect(start?.QueryExecutionContext).toEqual({ Database: 'test_search' });
    expect(start?.ExecutionParameters).toEqual([
      "'(?:^|[^\\p{L}\\p{N}])(?:open|opens)(?:$|[^\\p{L}\\p{N}])'",
    ]);
    expect(start?.QueryString).not.toContain('open');
    const body = bodyOf(result) as { results: Array<Record<string, unknown>>; total: number };
    // The sign holds "open" in its text (weight 2), the cafe only in an answer (1).
    expect(body.results.map((r) => [r.key, r.score])).toEqual([
      ['images/red-sign.png', 2],
      ['images/cafe.jpg', 1],
    ]);
    expect(body.results[0]).toEqual({
      key: 'images/red-sign.png',
      name: 'red-sign.png',
      score: 2,
      uploadedAt: '2026-11-03T10:00:00.000Z',
      status: { fast: 'done', detailed: 'done' },
      caption: 'a red sign with white letters',
      text: 'OPEN\n24 HOURS',
      colours: [{ hex: '#e0102f', name: 'Red Ribbon', family: 'red', fraction: 0.72 }],
      labels: ['sign'],
      categories: [],
    });
    expect(body.total).toBe(2);
    expect(athena.commandCalls(GetQueryResultsCommand).map((c) => c.args[0].input.NextToken)).toEqual([
      undefined,
      'page-2',
    ]);
  });

  it('sends no ExecutionParameters for a query without values', async () => {
    const { handler } = setup();
    succeedWith([row(SIGN)]);
    await handler(searchEvent(''));
    const start = athena.commandCalls(StartQueryExecutionCommand)[0]?.args[0].input;
    expect(start?.ExecutionParameters).toBeUndefined();
  });

  it('stops a query still running at the deadline and answers 504', async () => {
    const { handler } = setup({ deadlineMs: 1000 });
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-slow' });
    athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'RUNNING' } } });
    athena.on(StopQueryExecutionCommand).resolves({});

    const result = await handler(searchEvent('q=open'));

    expect(result.statusCode).toBe(504);
    expect(bodyOf(result)).toMatchObject({ error: { code: 'SEARCH_TIMEOUT' } });
    expect((bodyOf(result).error as { message: string }).message).toMatch(/within 1000 ms .* stopped/);
    expect(athena.commandCalls(StopQueryExecutionCommand).map((c) => c.args[0].input)).toEqual([
      { QueryExecutionId: 'q-slow' },
    ]);
    expect(athena.commandCalls(GetQueryResultsCommand)).toHaveLength(0);
  });

  it('answers 503 with what to do when the workgroup scan limit cancels the query', async () => {
    const { handler } = setup();
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-big' });
    athena.on(GetQueryExecutionCommand).resolves({
      QueryExecution: {
        Status: {
          State: 'CANCELLED',
          StateChangeReason: 'Query cancelled: Bytes scanned limit was exceeded',
        },
      },
    });

    const result = await handler(searchEvent('q=open'));

    expect(result.statusCode).toBe(503);
    const error = bodyOf(result).error as { code: string; message: string };
    expect(error.code).toBe('SEARCH_SCAN_LIMIT');
    expect(error.message).toMatch(/narrow it with filters or raise bytesScannedCutoffPerQuery/);
  });

  it('answers 502 with a fixed sentence when the query fails, and logs Athena’s reason', async () => {
    const { handler, logger } = setup();
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-bad' });
    const reason =
      "TABLE_NOT_FOUND: Table test_search.descriptions does not exist (s3://private-bucket/descriptions/, SELECT * FROM x WHERE y = 'secret')";
    athena.on(GetQueryExecutionCommand).resolves({
      QueryExecution: { Status: { State: 'FAILED', StateChangeReason: reason } },
    });

    const result = await handler(searchEvent('q=open'));

    expect(result.statusCode).toBe(502);
    expect(bodyOf(result)).toEqual({
      error: {
        code: 'SEARCH_FAILED',
        message: SEARCH_FAILED_MESSAGE,
        detail: 'queryExecutionId=q-bad',
        requestId: 'req-1',
      },
    });
    for (const secret of ['TABLE_NOT_FOUND', 's3://', 'SELECT', 'test_search', 'secret'])
      expect(result.body).not.toContain(secret);
    const logged = logger.entries.find((e) => e.level === 'warn' && e.message === 'search failed');
    expect(JSON.stringify(logged)).toContain('TABLE_NOT_FOUND');
  });

  it('answers 503 with Retry-After when Athena throttles the start, not a 500', async () => {
    const { handler } = setup();
    const throttled = Object.assign(new Error('Rate exceeded'), {
      name: 'TooManyRequestsException',
      $metadata: { httpStatusCode: 400 },
    });
    athena.on(StartQueryExecutionCommand).rejects(throttled);

    const result = await handler(searchEvent('q=open'));

    expect(result.statusCode).toBe(503);
    expect(result.headers?.['retry-after']).toBe(String(SEARCH_RETRY_AFTER_SECONDS));
    const error = bodyOf(result).error as { code: string; message: string };
    expect(error.code).toBe('SEARCH_BUSY');
    expect(error.message).toMatch(/busy .* try again/);
    expect(result.body).not.toContain('Rate exceeded');
  });

  it('gives every Athena call an abort signal that fires at the deadline, and answers 504 when it does', async () => {
    const { handler } = setup({ deadlineMs: 50 });
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
    athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
    // The SDK rejects a call whose signal fires (its retries included) with an AbortError.
    athena.on(GetQueryResultsCommand).callsFake(async () => {
      await new Promise((resolve) => setTimeout(resolve, 100));
      throw Object.assign(new Error('Request aborted'), { name: 'AbortError' });
    });
    athena.on(StopQueryExecutionCommand).resolves({});

    const result = await handler(searchEvent('q=open'));

    expect(result.statusCode).toBe(504);
    expect(bodyOf(result)).toMatchObject({
      error: { code: 'SEARCH_TIMEOUT', detail: 'queryExecutionId=q-1' },
    });
    // Every call but the stop after the deadline (which has its own short signal): client.send(command, options).
    const calls = athena.calls().map((call) => call.args as unknown[]);
    const searchCalls = calls.filter(([command]) => !(command instanceof StopQueryExecutionCommand));
    expect(searchCalls).toHaveLength(3);
    for (const [, options] of searchCalls)
      expect((options as { abortSignal?: AbortSignal } | undefined)?.abortSignal?.aborted).toBe(true);
    expect(athena.commandCalls(StopQueryExecutionCommand).map((c) => c.args[0].input)).toEqual([
      { QueryExecutionId: 'q-1' },
    ]);
  });

  it.each([
    ['q=%27', 'q'],
    ['q=x&q=y', 'q'],
    [`q=${'x'.repeat(10_240)}`, 'q'],
    ['colour=red%27--', 'colour'],
    ['limit=10%20OR%201%3D1', 'limit'],
    ['sort=random()', 'sort'],
    ['cursor=%27%20OR%201%3D1%20--', 'cursor'],
    [`label=${Array.from({ length: 100 }, () => 'a').join('%20')}`, 'label'],
  ])('answers 400 naming the parameter for %s, without calling Athena', async (query, parameter) => {
    const { handler } = setup();
    const result = await handler(searchEvent(query));
    expect(result.statusCode).toBe(400);
    expect(bodyOf(result)).toMatchObject({ error: { code: 'INVALID_REQUEST', parameter } });
    expect(athena.commandCalls(StartQueryExecutionCommand)).toHaveLength(0);
  });

  it('is a 404 when the API has no search engine', async () => {
    const { handler } = setup({ search: false });
    const result = await handler(searchEvent('q=open'));
    expect(result.statusCode).toBe(404);
  });
});

describe('readAthenaSearchSettings', () => {
  it('is off without a workgroup and fails fast, naming the variable, when half set', () => {
    expect(readAthenaSearchSettings({})).toBeUndefined();
    expect(() => readAthenaSearchSettings({ SEARCH_WORKGROUP: 'w', SEARCH_TABLE: 'descriptions' })).toThrow(
      /SEARCH_DATABASE/,
    );
    expect(() =>
      readAthenaSearchSettings({ SEARCH_WORKGROUP: 'w', SEARCH_DATABASE: 'db; DROP', SEARCH_TABLE: 't' }),
    ).toThrow(/SEARCH_DATABASE/);
    expect(
      readAthenaSearchSettings({
        SEARCH_WORKGROUP: 'w',
        SEARCH_DATABASE: 'db',
        SEARCH_TABLE: 'descriptions',
      }),
    ).toEqual({ workGroup: 'w', table: { database: 'db', table: 'descriptions' } });
  });
});
