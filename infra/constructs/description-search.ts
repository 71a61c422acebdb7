import { Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ConfigError, ENV, expected } from '#engine/index.ts';
import { descriptionTableColumns } from '../glue-columns.ts';
import { assertIntegerInRange } from '../sizing.ts';
import type { DescriptionBucket } from './description-bucket.ts';

export interface DescriptionSearchProps {
  /** The bucket whose sidecar prefix the table reads. */
  readonly bucket: DescriptionBucket;
  /**
   * Glue database name (lower case letters, digits, `_`).
   * @default - `<stack name>_search`, lower-cased, other characters as `_`
   */
  readonly databaseName?: string;
  /** @default 'descriptions' */
  readonly tableName?: string;
  /** @default - `<stack name>-search` */
  readonly workGroupName?: string;
  /**
   * Athena cancels a query that would scan more than this (and bills what it scanned so far). At
   * 6.5 KB a full sidecar (docs/search.md), the default covers ~1.65 million sidecars per query,
   * $0.054 of scanning. Athena's own floor is 10 MB.
   * @default 10 GiB
   */
  readonly bytesScannedCutoffPerQuery?: number;
  /**
   * The search alarm goes off when the workgroup's queries scan more than this in one day (UTC):
   * a caller running up the bill (every caller allowed on the API can search, docs/search.md), or a
   * page polling search in a loop. At Athena's $5 per TB scanned the default is about $0.49 a day.
   * @default 100 GiB (ten queries at the default per-query cutoff)
   */
  readonly bytesScannedAlarmPerDay?: number;
  /**
   * How long query results are kept in the results bucket (they are only read once, right after
   * the query; result reuse needs them for as long as it may reuse them).
   * @default Duration.days(1)
   */
  readonly resultRetention?: Duration;
  /**
   * The results bucket holds only disposable query output; it empties itself within resultRetention.
   * @default RemovalPolicy.RETAIN (CloudFormation cannot delete a non-empty bucket)
   */
  readonly removalPolicy?: RemovalPolicy;
}

export const DEFAULT_SEARCH_TABLE = 'descriptions';
export const DEFAULT_BYTES_SCANNED_CUTOFF = 10 * 1024 ** 3;
export const DEFAULT_RESULT_RETENTION_DAYS = 1;
export const DEFAULT_BYTES_SCANNED_ALARM_PER_DAY = 100 * 1024 ** 3;
/** Athena rejects a smaller BytesScannedCutoffPerQuery. */
export const MIN_BYTES_SCANNED_CUTOFF = 10_000_000;
/** The OpenX JSON SerDe: one JSON document per line (sidecars are written on one line for it). */
export const JSON_SERDE = 'org.openx.data.jsonserde.JsonSerDe';

/**
 * Search over the sidecars with Athena: a Glue database and table over the sidecar prefix (JSON
 * SerDe, columns generated from the record's JSON schema), and an Athena workgroup that enforces
 * its own SSE-S3 encrypted results bucket (with an expiry rule) and a per-query bytes-scanned limit.
 * `grantSearch` lets a function run queries in that workgroup only.
 */
/**
 * Bytes the workgroup's queries scanned per day. Athena publishes `ProcessedBytes` per query state
 * (a query cancelled at the cutoff is billed for what it scanned too), so the states are summed.
 */
function bytesScannedPerDay(workGroup: string): cloudwatch.IMetric {
  const period = Duration.days(1);
  const usingMetrics: Record<string, cloudwatch.IMetric> = {};
  for (const state of ['SUCCEEDED', 'FAILED', 'CANCELED'] as const) {
    usingMetrics[state.toLowerCase()] = new cloudwatch.Metric({
      namespace: 'AWS/Athena',
      metricName: 'ProcessedBytes',
      dimensionsMap: { WorkGroup: workGroup, QueryState: state, QueryType: 'DML' },
      statistic: 'Sum',
      period,
    });
  }
  return new cloudwatch.MathExpression({
    label: 'bytes scanned per day',
    expression: 'FILL(succeeded, 0) + FILL(failed, 0) + FILL(canceled, 0)',
    usingMetrics,
    period,
  });
}

export class DescriptionSearch extends Construct {
  public readonly database: glue.CfnDatabase;
  public readonly table: glue.CfnTable;
  public readonly workGroup: athena.CfnWorkGroup;
  public readonly resultsBucket: s3.Bucket;
  public readonly databaseName: string;
  public readonly tableName: string;
  public readonly workGroupName: string;
  public readonly bytesScannedCutoffPerQuery: number;
  /** Bytes scanned by the workgroup's queries per day above `bytesScannedAlarmPerDay`. */
  public readonly bytesScannedAlarm: cloudwatch.Alarm;
  private readonly bucket: DescriptionBucket;

  constructor(scope: Construct, id: string, props: DescriptionSearchProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.bucket = props.bucket;
    const stackName = Token.isUnresolved(stack.stackName) ? 'image_describer' : stack.stackName;
    this.databaseName = props.databaseName ?? `${stackName.toLowerCase().replace(/[^a-z0-9_]/g, '_')}_search`;
    this.tableName = props.tableName ?? DEFAULT_SEARCH_TABLE;
    this.workGroupName = props.workGroupName ?? `${stackName}-search`;
    this.bytesScannedCutoffPerQuery = props.bytesScannedCutoffPerQuery ?? DEFAULT_BYTES_SCANNED_CUTOFF;
    assertGlueName(this.databaseName, 'databaseName');
    assertGlueName(this.tableName, 'tableName');
    if (!/^[a-zA-Z0-9._-]{1,128}$/.test(this.workGroupName)) {
      throw new ConfigError(
        expected('1-128 letters, digits, ".", "_" or "-"', 'workGroupName', this.workGroupName),
      );
    }
    assertIntegerInRange(
      this.bytesScannedCutoffPerQuery,
      MIN_BYTES_SCANNED_CUTOFF,
      Number.MAX_SAFE_INTEGER,
      'bytesScannedCutoffPerQuery',
    );
    const resultRetention = props.resultRetention ?? Duration.days(DEFAULT_RESULT_RETENTION_DAYS);
    if (resultRetention.toDays({ integral: false }) < 1 || !Number.isInteger(resultRetention.toDays())) {
      throw new ConfigError(
        expected('a whole number of days, at least 1', 'resultRetention', resultRetention.toHumanString()),
      );
    }

    this.resultsBucket = new s3.Bucket(this, 'Results', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: props.bucket.accessLogBucket,
      serverAccessLogsPrefix: 'search-results/',
      lifecycleRules: [
        { id: 'expire-query-results', expiration: resultRetention },
        { id: 'abort-incomplete-multipart-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });

    this.database = new glue.CfnDatabase(this, 'Database', {
      catalogId: stack.account,
      databaseInput: {
        name: this.databaseName,
        description: 'image-describer: description sidecars, for search',
      },
    });

    this.table = new glue.CfnTable(this, 'Table', {
      catalogId: stack.account,
      databaseName: this.databaseName,
      tableInput: {
        name: this.tableName,
        description: `Description sidecars (schema v2) under s3://<bucket>/${props.bucket.sidecarPrefix}`,
        tableType: 'EXTERNAL_TABLE',
        parameters: { classification: 'json', EXTERNAL: 'TRUE' },
        storageDescriptor: {
          // Athena reads every object under the location, sub-prefixes (uploads/…) included.
          location: `s3://${props.bucket.bucket.bucketName}/${props.bucket.sidecarPrefix}`,
          inputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
          outputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
          columns: descriptionTableColumns(),
          serdeInfo: {
            serializationLibrary: JSON_SERDE,
            parameters: {
              // A stray non-JSON object under the prefix reads as a row of nulls, not a failed query.
              'ignore.malformed.json': 'TRUE',
              // Record keys are camelCase; Hive columns are lower case.
              'case.insensitive': 'TRUE',
            },
          },
        },
      },
    });
    this.table.addResourceDependency(this.database);

    this.workGroup = new athena.CfnWorkGroup(this, 'WorkGroup', {
      name: this.workGroupName,
      description: 'image-describer search: results encrypted in its own bucket, bytes scanned capped',
      state: 'ENABLED',
      // Deleting the stack deletes the workgroup even when it has query history.
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        // Callers cannot pick another output location, encryption or a higher limit.
        enforceWorkGroupConfiguration: true,
        bytesScannedCutoffPerQuery: this.bytesScannedCutoffPerQuery,
        publishCloudWatchMetricsEnabled: true,
        engineVersion: { selectedEngineVersion: 'Athena engine version 3' },
        resultConfiguration: {
          outputLocation: `s3://${this.resultsBucket.bucketName}/results/`,
          encryptionConfiguration: { encryptionOption: 'SSE_S3' },
        },
      },
    });

    const perDay = props.bytesScannedAlarmPerDay ?? DEFAULT_BYTES_SCANNED_ALARM_PER_DAY;
    if (!Token.isUnresolved(perDay) && !(Number.isFinite(perDay) && perDay > 0)) {
      throw new ConfigError(expected('a positive number of bytes', 'bytesScannedAlarmPerDay', perDay));
    }
    this.bytesScannedAlarm = new cloudwatch.Alarm(this, 'BytesScannedPerDay', {
      alarmDescription: `${this.workGroupName}: search queries scanned more than ${perDay} bytes in a day (who is searching, and how often?)`,
      metric: bytesScannedPerDay(this.workGroupName),
      threshold: perDay,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    // The workgroup publishes the metric; the alarm names it only by the workgroup's name.
    this.bytesScannedAlarm.node.addDependency(this.workGroup);
  }

  /** `arn:…:athena:<region>:<account>:workgroup/<name>` */
  public get workGroupArn(): string {
    return Stack.of(this).formatArn({
      service: 'athena',
      resource: 'workgroup',
      resourceName: this.workGroupName,
    });
  }

  /** Environment variables the search handler reads (names shared with layers/engine/settings.ts). */
  public environment(): Record<string, string> {
    return {
      [ENV.SEARCH_WORKGROUP]: this.workGroupName,
      [ENV.SEARCH_DATABASE]: this.databaseName,
      [ENV.SEARCH_TABLE]: this.tableName,
    };
  }

  /**
   * Run queries in this workgroup only; read this database and table's metadata only; read only the
   * sidecar prefix (Athena reads S3 with the caller's credentials); write only the results bucket.
   */
  public grantSearch(grantee: iam.IGrantable): void {
    const stack = Stack.of(this);
    const principal = grantee.grantPrincipal;
    const add = (statement: iam.PolicyStatementProps) =>
      principal.addToPrincipalPolicy(new iam.PolicyStatement(statement));
    add({
      actions: [
        'athena:StartQueryExecution',
        'athena:GetQueryExecution',
        'athena:GetQueryResults',
        'athena:StopQueryExecution',
      ],
      resources: [this.workGroupArn],
    });
    add({
      actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartitions'],
      resources: [
        stack.formatArn({ service: 'glue', resource: 'catalog' }),
        stack.formatArn({ service: 'glue', resource: 'database', resourceName: this.databaseName }),
        stack.formatArn({
          service: 'glue',
          resource: 'table',
          resourceName: `${this.databaseName}/${this.tableName}`,
        }),
      ],
    });
    const sidecarPrefix = this.bucket.sidecarPrefix;
    add({ actions: ['s3:GetObject'], resources: [this.bucket.sidecarObjectsArn('*')] });
    add({
      actions: ['s3:ListBucket'],
      resources: [this.bucket.bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [sidecarPrefix, `${sidecarPrefix}*`] } },
    });
    add({
      actions: ['s3:GetBucketLocation'],
      resources: [this.bucket.bucket.bucketArn, this.resultsBucket.bucketArn],
    });
    add({
      actions: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
      resources: [this.resultsBucket.arnForObjects('results/*')],
    });
    add({
      actions: ['s3:ListBucket', 's3:ListBucketMultipartUploads'],
      resources: [this.resultsBucket.bucketArn],
    });
  }

  /**
   * Acknowledge, on the grantee's policy, exactly the prefix wildcards grantSearch adds (cdk-nag
   * AwsSolutions-IAM5), each with its reason.
   */
  public acknowledgeSearchWildcards(policy: Construct): void {
    const stack = Stack.of(this);
    const resultsId = stack.resolve(stack.getLogicalId(this.resultsBucket.node.defaultChild as s3.CfnBucket));
    Validations.of(policy).acknowledge({
      id: this.bucket.wildcardFindingId(`${this.bucket.sidecarPrefix}*`),
      reason:
        "Athena reads every sidecar under the sidecar prefix with the caller's credentials; nothing else in the bucket.",
    });
    Validations.of(policy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${resultsId}.Arn>/results/*]`,
      reason:
        "Athena writes each query's result files under results/ in the search results bucket; their names are per query.",
    });
  }
}

function assertGlueName(name: string, field: string): void {
  if (!/^[a-z0-9_]{1,255}$/.test(name)) {
    throw new ConfigError(expected('lower-case letters, digits and "_"', field, name));
  }
}
