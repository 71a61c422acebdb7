import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { descriptionRecordJsonSchema } from '#engine/record/json-schema.ts';
import { DescriptionBucket } from '../../infra/constructs/description-bucket.ts';
import { DescriptionSearch, JSON_SERDE } from '../../infra/constructs/description-search.ts';
import { descriptionTableColumns, glueTypeOf } from '../../infra/glue-columns.ts';
import { ImageDescriberStack } from '../../infra/image-describer-stack.ts';
import {
  allowedActions,
  logicalId,
  renderArn,
  type Synthesized,
  synthesize,
  TEST_MODELS,
  vectorIndexArnOf,
} from './synth.ts';

// One synthesis without bundling (the handler bundle is checked in stack.test.ts).
let synth: Synthesized;
// The same stack with search by keywords only: GET /search stays in the upload API function.
let keywordOnly: Synthesized;
beforeAll(() => {
  synth = synthesize({}, { bundle: false });
  keywordOnly = synthesize({ vectorSearch: false }, { bundle: false });
});
afterAll(() => {
  synth?.cleanup();
  keywordOnly?.cleanup();
});

const resourcesOf = (type: string) => Object.values(synth.template.findResources(type));
const searchOf = () => {
  const search = synth.stack.search;
  if (!search) throw new Error('the stack has no search');
  return search;
};

describe('Glue table over the sidecars', () => {
  it('reads every sidecar under descriptions/ with the OpenX JSON SerDe', () => {
    const bucketId = logicalId(synth.stack, synth.stack.descriptionBucket.bucket);
    const [table, ...others] = resourcesOf('AWS::Glue::Table');
    expect(others).toHaveLength(0);
    const input = table?.Properties.TableInput;
    expect(input.Name).toBe('descriptions');
    expect(table?.Properties.DatabaseName).toBe('test_search');
    expect(input.TableType).toBe('EXTERNAL_TABLE');
    expect(renderArn(input.StorageDescriptor.Location)).toBe(`s3://<${bucketId}>/descriptions/`);
    expect(input.StorageDescriptor.SerdeInfo).toEqual({
      SerializationLibrary: JSON_SERDE,
      Parameters: { 'ignore.malformed.json': 'TRUE', 'case.insensitive': 'TRUE' },
    });
    synth.template.hasResourceProperties('AWS::Glue::Database', { DatabaseInput: { Name: 'test_search' } });
  });

  it('has one lower-case column per top-level record field, typed as the search SQL reads them', () => {
    const input = resourcesOf('AWS::Glue::Table')[0]?.Properties.TableInput;
    const columns = new Map<string, string>(
      input.StorageDescriptor.Columns.map((c: { Name: string; Type: string }) => [c.Name, c.Type]),
    );
    const fields = Object.keys((descriptionRecordJsonSchema() as { properties: object }).properties);
    expect([...columns.keys()]).toEqual(fields.map((f) => f.toLowerCase()));
    expect(columns.get('caption')).toBe('string');
    expect(columns.get('detaileddescription')).toBe('string');
    expect(columns.get('labels')).toBe('array<string>');
    expect(columns.get('colours')).toBe(
      'array<struct<hex:string,name:string,family:string,fraction:double>>',
    );
    expect(columns.get('text')).toMatch(
      /^struct<full:string,lines:array<struct<text:string,confidence:double,/,
    );
    expect(columns.get('status')).toBe(
      'struct<fast:struct<state:string,updatedat:string>,detailed:struct<state:string,updatedat:string>>',
    );
    expect(columns.get('categories')).toBe('array<struct<id:string,score:double,evidence:array<string>>>');
    // A union (string | number | boolean) has no Hive type: the SerDe hands over its JSON text.
    expect(columns.get('answers')).toMatch(
      /^map<string,struct<value:string,raw:string,model:struct<id:string,/,
    );
    expect(columns.get('source')).toContain('key:string');
    expect(columns.get('source')).toContain('size:bigint');
  });

  it('refuses a schema node it cannot type, naming the field', () => {
    expect(() => glueTypeOf({ type: 'null' }, 'answers.*.value')).toThrow(/answers\.\*\.value/);
    expect(descriptionTableColumns({ properties: { schemaVersion: { type: 'number', const: 2 } } })).toEqual([
      { name: 'schemaversion', type: 'double' },
    ]);
  });
});

describe('Athena workgroup', () => {
  it('enforces its own SSE-S3 results location, a bytes-scanned limit and engine v3', () => {
    const resultsId = logicalId(synth.stack, searchOf().resultsBucket);
    const [group, ...others] = resourcesOf('AWS::Athena::WorkGroup');
    expect(others).toHaveLength(0);
    expect(group?.Properties.Name).toBe('Test-search');
    const config = group?.Properties.WorkGroupConfiguration;
    expect(config).toMatchObject({
      EnforceWorkGroupConfiguration: true,
      BytesScannedCutoffPerQuery: 10 * 1024 ** 3,
      EngineVersion: { SelectedEngineVersion: 'Athena engine version 3' },
      ResultConfiguration: { EncryptionConfiguration: { EncryptionOption: 'SSE_S3' } },
    });
    expect(renderArn(config.ResultConfiguration.OutputLocation)).toBe(`s3://<${resultsId}>/results/`);
  });

  it('keeps results in a private, encrypted, logged bucket that expires them after a day', () => {
    const resultsId = logicalId(synth.stack, searchOf().resultsBucket);
    const bucket = synth.template.toJSON().Resources[resultsId];
    expect(bucket.Properties.PublicAccessBlockConfiguration.BlockPublicPolicy).toBe(true);
    expect(bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration).toEqual([
      { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
    ]);
    expect(bucket.Properties.LoggingConfiguration.LogFilePrefix).toBe('search-results/');
    expect(bucket.Properties.LifecycleConfiguration.Rules).toEqual(
      expect.arrayContaining([expect.objectContaining({ Id: 'expire-query-results', ExpirationInDays: 1 })]),
    );
  });
});

describe('the bytes-scanned alarm', () => {
  it("goes off when the workgroup's queries scan more than 100 GiB in a day, whatever their state", () => {
    const [alarm, ...others] = Object.values(
      synth.template.findResources('AWS::CloudWatch::Alarm', {
        Properties: { AlarmDescription: Match.stringLikeRegexp('^Test-search: search queries scanned') },
      }),
    );
    expect(others).toHaveLength(0);
    expect(alarm?.Properties.Threshold).toBe(100 * 1024 ** 3);
    expect(alarm?.Properties.ComparisonOperator).toBe('GreaterThanThreshold');
    const metrics = alarm?.Properties.Metrics as Array<{
      Expression?: string;
      MetricStat?: {
        Period: number;
        Stat: string;
        Metric: { MetricName: string; Namespace: string; Dimensions: Array<{ Name: string; Value: string }> };
      };
    }>;
    const stats = metrics.filter((m) => m.MetricStat).map((m) => m.MetricStat);
    expect(stats.map((m) => m?.Metric.Dimensions.find((d) => d.Name === 'QueryState')?.Value).sort()).toEqual(
      ['CANCELED', 'FAILED', 'SUCCEEDED'],
    );
    for (const stat of stats) {
      expect(stat).toMatchObject({
        Period: 86_400,
        Stat: 'Sum',
        Metric: { Namespace: 'AWS/Athena', MetricName: 'ProcessedBytes' },
      });
      expect(stat?.Metric.Dimensions).toContainEqual({ Name: 'WorkGroup', Value: 'Test-search' });
    }
    expect(metrics.find((m) => m.Expression)?.Expression).toBe(
      'FILL(succeeded, 0) + FILL(failed, 0) + FILL(canceled, 0)',
    );
  });

  it('takes its threshold from bytesScannedAlarmPerDay', () => {
    const stack = new Stack(new App(), 'AlarmProps');
    const bucket = new DescriptionBucket(stack, 'Bucket');
    new DescriptionSearch(stack, 'Search', { bucket, bytesScannedAlarmPerDay: 5 * 1024 ** 3 });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { Threshold: 5 * 1024 ** 3 });
  });
});

/** The function that answers GET /search: the search function by default, the upload API without vectors. */
function searchTarget(of: Synthesized) {
  const fn = of.stack.searchFunction ?? of.stack.uploadApi;
  return { fn: fn.fn, role: fn.identity.role };
}

describe.each([
  ['the search function (default)', () => synth],
  ['the upload API function (vectorSearch: false)', () => keywordOnly],
])('GET /search on %s', (_name, current) => {
  it('is a route with the same authorizer as the upload routes, to that function', () => {
    const { template, stack } = current();
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map((r) => r.Properties);
    const search = routes.find((r) => r.RouteKey === 'GET /search');
    const upload = routes.find((r) => r.RouteKey === 'POST /uploads');
    expect(search?.AuthorizationType).toBe('AWS_IAM');
    expect(search?.AuthorizationType).toBe(upload?.AuthorizationType);
    const integrations = template.findResources('AWS::ApiGatewayV2::Integration');
    const target = String(search?.Target['Fn::Join'][1][1].Ref);
    expect(renderArn(integrations[target]?.Properties.IntegrationUri)).toBe(
      `<${logicalId(stack, searchTarget(current()).fn)}.Arn>`,
    );
  });

  it('passes the workgroup, database and table to the function and gives it time to wait', () => {
    const { template, stack } = current();
    const fn = template.toJSON().Resources[logicalId(stack, searchTarget(current()).fn)];
    expect(fn.Properties.Environment.Variables).toMatchObject({
      SEARCH_WORKGROUP: 'Test-search',
      SEARCH_DATABASE: 'test_search',
      SEARCH_TABLE: 'descriptions',
    });
    expect(fn.Properties.Timeout).toBe(29);
  });

  it('may query only its workgroup, read only its table, the sidecar prefix, and write only results', () => {
    const { template, stack } = current();
    const bucket = `<${logicalId(stack, stack.descriptionBucket.bucket)}.Arn>`;
    const results = `<${logicalId(stack, stack.search?.resultsBucket ?? stack)}.Arn>`;
    const allowed = allowedActions(template, logicalId(stack, searchTarget(current()).role));
    const athena = [...allowed.entries()].filter(([action]) => action.startsWith('athena:'));
    const workgroup = 'arn:<AWS::Partition>:athena:<AWS::Region>:<AWS::AccountId>:workgroup/Test-search';
    expect(athena.sort()).toEqual([
      ['athena:GetQueryExecution', [workgroup]],
      ['athena:GetQueryResults', [workgroup]],
      ['athena:StartQueryExecution', [workgroup]],
      ['athena:StopQueryExecution', [workgroup]],
    ]);
    const glue = 'arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>';
    expect(allowed.get('glue:GetTable')).toEqual(
      [`${glue}:catalog`, `${glue}:database/test_search`, `${glue}:table/test_search/descriptions`].sort(),
    );
    expect([...allowed.keys()].filter((a) => a.startsWith('glue:')).sort()).toEqual([
      'glue:GetDatabase',
      'glue:GetPartitions',
      'glue:GetTable',
    ]);
    // The upload API function also reads and writes its uploads (test/infra/stack.test.ts).
    const uploads = stack.searchFunction
      ? []
      : [`${bucket}/descriptions/uploads/*`, `${bucket}/images/uploads/*`];
    expect(allowed.get('s3:GetObject')).toEqual(
      [`${bucket}/descriptions/*`, ...uploads, `${results}/results/*`].sort(),
    );
    expect(allowed.get('s3:PutObject')).toEqual(
      [...(stack.searchFunction ? [] : [`${bucket}/images/uploads/*`]), `${results}/results/*`].sort(),
    );
  });

  it('conditions its listing of the description bucket on the sidecar prefix', () => {
    const { template, stack } = current();
    const roleId = logicalId(stack, searchTarget(current()).role);
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: roleId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 's3:ListBucket',
            Condition: { StringLike: { 's3:prefix': ['descriptions/', 'descriptions/*'] } },
          }),
        ]),
      },
    });
  });

  it('is in the managed invoke policy', () => {
    const [policy] = Object.values(current().template.findResources('AWS::IAM::ManagedPolicy'));
    const resources = policy?.Properties.PolicyDocument.Statement[0].Resource.map(renderArn) as string[];
    expect(resources.some((r) => r.endsWith('/$default/GET/search'))).toBe(true);
  });

  it('leaves no cdk-nag finding unacknowledged', () => {
    expect(current().nagViolations).toEqual([]);
  });
});

describe('search by meaning: S3 Vectors', () => {
  const vectorsOf = () => {
    const vectors = synth.stack.vectors;
    if (!vectors) throw new Error('the stack has no vector index');
    return vectors;
  };
  const s3vectorsActions = (role: Parameters<typeof logicalId>[1]) =>
    [...allowedActions(synth.template, logicalId(synth.stack, role)).entries()]
      .filter(([action]) => action.startsWith('s3vectors:'))
      .sort();

  it('creates an encrypted vector bucket and one cosine float32 index of the manifest dimension', () => {
    synth.template.resourceCountIs('AWS::S3Vectors::VectorBucket', 1);
    synth.template.hasResourceProperties('AWS::S3Vectors::VectorBucket', {
      EncryptionConfiguration: { SseType: 'AES256' },
    });
    synth.template.resourceCountIs('AWS::S3Vectors::Index', 1);
    synth.template.hasResourceProperties('AWS::S3Vectors::Index', {
      // The dimension is in the default name: a new length is a new index, which CloudFormation
      // can create beside the old one (a named resource cannot be replaced in place).
      IndexName: `images-${TEST_MODELS.embeddingDimensions}d`,
      DataType: 'float32',
      Dimension: TEST_MODELS.embeddingDimensions,
      DistanceMetric: 'cosine',
      EncryptionConfiguration: { SseType: 'AES256' },
      VectorBucketArn: { 'Fn::GetAtt': [Match.anyValue(), 'VectorBucketArn'] },
    });
    // Kept with the bucket's removal policy (retained by default).
    const [index] = resourcesOf('AWS::S3Vectors::Index');
    expect(index?.DeletionPolicy).toBe('Retain');
  });

  it('lets the stage functions put and delete (a record without a current embedding removes its vector), the search only query and get, on that index only', () => {
    const index = renderArn(vectorIndexArnOf(synth.stack));
    expect(s3vectorsActions(synth.stack.fastDescribe.identity.role)).toEqual([
      ['s3vectors:DeleteVectors', [index]],
      ['s3vectors:PutVectors', [index]],
    ]);
    expect(s3vectorsActions(synth.stack.detailedWorker.identity.role)).toEqual([
      ['s3vectors:DeleteVectors', [index]],
      ['s3vectors:PutVectors', [index]],
    ]);
    const search = synth.stack.searchFunction;
    if (!search) throw new Error('the stack has no search function');
    expect(s3vectorsActions(search.identity.role)).toEqual([
      ['s3vectors:GetVectors', [index]],
      ['s3vectors:QueryVectors', [index]],
    ]);
    expect(s3vectorsActions(synth.stack.uploadApi.identity.role)).toEqual([]);
    expect(vectorsOf().indexArn).toBeDefined();
  });

  it('runs the search function from the fast image with the search handler, the index named in every stage', () => {
    const resources = synth.template.toJSON().Resources;
    const search = synth.stack.searchFunction;
    if (!search) throw new Error('the stack has no search function');
    const searchFn = resources[logicalId(synth.stack, search.fn)].Properties;
    const fastFn = resources[logicalId(synth.stack, synth.stack.fastDescribe.fn)].Properties;
    expect(searchFn.PackageType).toBe('Image');
    expect(searchFn.Code.ImageUri).toEqual(fastFn.Code.ImageUri);
    expect(searchFn.ImageConfig).toEqual({ Command: ['dist/functions/search-api.handler'] });
    expect(searchFn.Architectures).toEqual(['arm64']);
    for (const fn of [search.fn, synth.stack.fastDescribe.fn, synth.stack.detailedWorker.fn]) {
      const env = resources[logicalId(synth.stack, fn)].Properties.Environment.Variables;
      expect(env.VECTOR_INDEX_ARN).toEqual(vectorIndexArnOf(synth.stack));
    }
    const uploadEnv =
      resources[logicalId(synth.stack, synth.stack.uploadApi.fn)].Properties.Environment.Variables;
    expect(Object.keys(uploadEnv).filter((name) => /^(SEARCH_|VECTOR_)/.test(name))).toEqual([]);
  });

  it('names the index and the search function in the outputs', () => {
    const outputs = synth.template.toJSON().Outputs;
    expect(outputs.VectorIndexArn.Value).toEqual(vectorIndexArnOf(synth.stack));
    expect(outputs.SearchFunctionName.Value).toEqual({
      Ref: logicalId(synth.stack, synth.stack.searchFunction?.fn ?? synth.stack),
    });
  });

  it('vectorSearch: false deploys no vector bucket, index, search function or removal trigger', () => {
    keywordOnly.template.resourceCountIs('AWS::S3Vectors::VectorBucket', 0);
    keywordOnly.template.resourceCountIs('AWS::S3Vectors::Index', 0);
    expect(keywordOnly.stack.searchFunction).toBeUndefined();
    const configs = Object.values(
      keywordOnly.template.findResources('Custom::S3BucketNotifications'),
    ).flatMap((n) => n.Properties.NotificationConfiguration.LambdaFunctionConfigurations ?? []);
    expect(configs.map((c: { Events: string[] }) => c.Events)).toEqual([['s3:ObjectCreated:*']]);
  });

  it('refuses an index name S3 Vectors would refuse, naming the setting', () => {
    expect(
      () =>
        new ImageDescriberStack(new App(), 'BadIndexName', {
          models: TEST_MODELS,
          vectorSearch: { indexName: 'Images_2026' },
        }),
    ).toThrow(
      /^Expected an S3 Vectors index name .* for vectorSearch\.indexName but received "Images_2026"$/,
    );
  });

  it('refuses a manifest whose embedding task does not say its dimension', () => {
    const { embeddingDimensions: _omitted, ...models } = TEST_MODELS;
    expect(() => new ImageDescriberStack(new App(), 'NoDims', { models })).toThrow(
      /tasks\.embedding\.dimensions/,
    );
  });
});

describe('search: false', () => {
  it('deploys no Glue, no Athena, no vectors and no search route', () => {
    const off = synthesize({ search: false }, { bundle: false });
    try {
      off.template.resourceCountIs('AWS::Glue::Table', 0);
      off.template.resourceCountIs('AWS::Athena::WorkGroup', 0);
      off.template.resourceCountIs('AWS::S3Vectors::Index', 0);
      const routes = Object.values(off.template.findResources('AWS::ApiGatewayV2::Route')).map(
        (r) => r.Properties.RouteKey,
      );
      expect(routes.sort()).toEqual(['GET /uploads/{id}', 'POST /uploads']);
      expect(off.nagViolations).toEqual([]);
    } finally {
      off.cleanup();
    }
  });
});

describe('DescriptionSearch props', () => {
  const scope = () => {
    const stack = new Stack(new App(), 'Props');
    return { stack, bucket: new DescriptionBucket(stack, 'Bucket') };
  };

  it.each([
    [{ databaseName: 'Bad-Name' }, /databaseName/],
    [{ tableName: 'a b' }, /tableName/],
    [{ workGroupName: 'no spaces please' }, /workGroupName/],
    [{ bytesScannedCutoffPerQuery: 1_000_000 }, /bytesScannedCutoffPerQuery/],
    [{ resultRetention: Duration.hours(3) }, /resultRetention/],
    [{ bytesScannedAlarmPerDay: 0 }, /bytesScannedAlarmPerDay/],
  ])('rejects %o', (props, message) => {
    const { stack, bucket } = scope();
    expect(() => new DescriptionSearch(stack, 'Search', { bucket, ...props })).toThrow(message);
  });
});
