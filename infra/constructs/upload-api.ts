import { fileURLToPath } from 'node:url';
import { Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer, HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ConfigError, ENV, expected, powertoolsEnvironment } from '#engine/index.ts';
import { DEFAULT_UPLOAD_MAX_BYTES, SEARCH_API_ROUTE, UPLOAD_API_ROUTES } from '#engine/uploads/index.ts';
import { assertIntegerInRange } from '../sizing.ts';
import { assertOrigin, type DescriptionBucket } from './description-bucket.ts';
import type { DescriptionSearch } from './description-search.ts';
import { FunctionIdentity } from './lambda-basics.ts';

/** IAM (SigV4-signed requests) or a JWT authorizer (Cognito or any OIDC issuer). API keys are not auth. */
export type UploadApiAuth =
  | { readonly kind: 'iam' }
  | { readonly kind: 'jwt'; readonly issuer: string; readonly audience: readonly string[] };

export interface UploadApiProps {
  /** Uploads go to `<inputPrefix>uploads/<id>`; status reads `<sidecarPrefix>uploads/<id>.json`. */
  readonly bucket: DescriptionBucket;
  /**
   * Who may call the API.
   * @default { kind: 'iam' }
   */
  readonly auth?: UploadApiAuth;
  /**
   * Browser origins allowed to call the API (CORS). The bucket needs the same origins for the upload.
   * @default - none: no CORS headers, only same-origin or non-browser clients
   */
  readonly corsOrigins?: readonly string[];
  /**
   * Steady-state requests per second for the whole stage: one request per image, so a steady 10/s
   * is far beyond a person or an app and caps what a leaked credential can cost.
   * @default 10
   */
  readonly rateLimit?: number;
  /** Requests allowed in a short burst (a batch of files picked at once). @default 20 */
  readonly burstLimit?: number;
  /** Largest upload the presigned POST policy accepts (content-length-range). @default 20 MiB */
  readonly uploadMaxBytes?: number;
  /**
   * The handler's entry file (bundled with the local esbuild, no Docker needed).
   * @default functions/aws/upload-api.ts
   */
  readonly entry?: string;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Athena search over the sidecars: adds `GET /search`, which may query only this workgroup.
   * @default - no search route
   */
  readonly search?: DescriptionSearch;
  /**
   * The function that answers `GET /search` instead of this one (the search function, which also
   * searches by meaning); the upload function then gets no search settings or grants.
   * @default - this function answers it with Athena, when `search` is set
   */
  readonly searchFunction?: lambda.IFunction;
}

/** The Lambda timeout with search: the handler's own wait (SEARCH_DEADLINE_MS) plus slack, under API Gateway's 30 s. */
export const SEARCH_FUNCTION_TIMEOUT_SECONDS = 29;

/** Sub-prefix of the input prefix that API uploads go to (server-generated ids only). */
export const UPLOADS_SUB_PREFIX = 'uploads/';
export const DEFAULT_UPLOAD_API_ENTRY = fileURLToPath(
  new URL('../../functions/aws/upload-api.ts', import.meta.url),
);

/**
 * HTTP API → zip Lambda: POST /uploads returns a presigned POST for a server-generated key,
 * GET /uploads/{id} reports the upload's status from its sidecar, and (with `search`) GET /search
 * queries the sidecars through Athena. IAM authorization by default, the same on every route.
 */
export class UploadApi extends Construct {
  public readonly api: apigw.HttpApi;
  public readonly stage: apigw.HttpStage;
  public readonly fn: NodejsFunction;
  public readonly identity: FunctionIdentity;
  public readonly accessLogGroup: logs.LogGroup;
  /** Attach to the users or roles that may call the API (IAM authorization only). */
  public readonly invokePolicy?: iam.ManagedPolicy;
  /** The API's base URL (the `$default` stage). */
  public readonly url: string;

  constructor(scope: Construct, id: string, props: UploadApiProps) {
    super(scope, id);
    const auth = props.auth ?? { kind: 'iam' };
    const corsOrigins = props.corsOrigins ?? [];
    const rateLimit = props.rateLimit ?? 10;
    const burstLimit = props.burstLimit ?? 20;
    const uploadMaxBytes = props.uploadMaxBytes ?? DEFAULT_UPLOAD_MAX_BYTES;
    assertAuth(auth);
    corsOrigins.forEach((origin, i) => {
      assertOrigin(origin, `corsOrigins[${i}]`);
    });
    assertIntegerInRange(rateLimit, 1, 10_000, 'rateLimit');
    assertIntegerInRange(burstLimit, 1, 5_000, 'burstLimit');
    assertIntegerInRange(uploadMaxBytes, 1, 5 * 1024 ** 3, 'uploadMaxBytes');
    // Athena search in this zip function only when no search function takes the route.
    const search = props.searchFunction ? undefined : props.search;
    const hasSearchRoute = Boolean(props.search || props.searchFunction);

    this.identity = new FunctionIdentity(this, 'Identity', { logRetention: props.logRetention });
    this.fn = new NodejsFunction(this, 'Function', {
      description: search
        ? 'image-describer: presigned upload URLs, upload status and search'
        : 'image-describer: presigned upload URLs and upload status',
      entry: props.entry ?? DEFAULT_UPLOAD_API_ENTRY,
      handler: 'handler',
      // The same Node major as the container images (public.ecr.aws/lambda/nodejs:22).
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      // Signing a policy and reading one small JSON object: no CPU to speak of.
      memorySize: 256,
      // A search waits for Athena (bounded by the handler's deadline); uploads need far less.
      timeout: Duration.seconds(search ? SEARCH_FUNCTION_TIMEOUT_SECONDS : 10),
      role: this.identity.role,
      logGroup: this.identity.logGroup,
      bundling: {
        // esbuild is a dev dependency: bundle locally, offline, without Docker.
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        target: 'node22',
        sourceMap: true,
        // Bundle the SDK too: pinned versions, and @aws-sdk/s3-presigned-post is not in the runtime.
        externalModules: [],
        mainFields: ['module', 'main'],
        // Bundled CommonJS dependencies still call require().
        banner:
          "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      },
      environment: {
        ...powertoolsEnvironment(),
        [ENV.BUCKET_NAME]: props.bucket.bucket.bucketName,
        [ENV.INPUT_PREFIX]: props.bucket.inputPrefix,
        [ENV.SIDECAR_PREFIX]: props.bucket.sidecarPrefix,
        [ENV.UPLOAD_MAX_BYTES]: String(uploadMaxBytes),
        ...search?.environment(),
      },
    });
    Validations.of(this.fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'nodejs22.x on purpose: the same Node major as the container-image functions and the esbuild target.',
    });

    // Signs POSTs only for server-generated upload keys; reads only those uploads and their sidecars.
    props.bucket.grantWriteInputs(this.fn, UPLOADS_SUB_PREFIX);
    props.bucket.grantReadInputs(this.fn, UPLOADS_SUB_PREFIX);
    props.bucket.grantReadSidecars(this.fn, UPLOADS_SUB_PREFIX);
    props.bucket.grantMissingKeysAs404(this.fn);
    const policy = this.identity.role.node.tryFindChild('DefaultPolicy');
    if (policy) {
      for (const pattern of [
        `${props.bucket.inputPrefix}${UPLOADS_SUB_PREFIX}*`,
        `${props.bucket.sidecarPrefix}${UPLOADS_SUB_PREFIX}*`,
      ]) {
        Validations.of(policy).acknowledge({
          id: props.bucket.wildcardFindingId(pattern),
          reason: `Scoped to the "${pattern}" key prefix: upload ids are generated per request.`,
        });
      }
    }
    if (search) {
      search.grantSearch(this.fn);
      if (policy) search.acknowledgeSearchWildcards(policy);
    }

    this.api = new apigw.HttpApi(this, 'Api', {
      description: 'image-describer upload API',
      createDefaultStage: false,
      defaultAuthorizer:
        auth.kind === 'iam'
          ? new HttpIamAuthorizer()
          : new HttpJwtAuthorizer('JwtAuthorizer', auth.issuer, { jwtAudience: [...auth.audience] }),
      corsPreflight:
        corsOrigins.length > 0
          ? {
              allowOrigins: [...corsOrigins],
              allowMethods: [apigw.CorsHttpMethod.GET, apigw.CorsHttpMethod.POST],
              allowHeaders: [
                'authorization',
                'content-type',
                'x-amz-date',
                'x-amz-security-token',
                'x-amz-content-sha256',
              ],
              maxAge: Duration.hours(1),
            }
          : undefined,
    });
    const integration = new HttpLambdaIntegration('UploadIntegration', this.fn);
    const searchIntegration = props.searchFunction
      ? new HttpLambdaIntegration('SearchIntegration', props.searchFunction)
      : integration;
    // The route keys the handler dispatches on, from the handler's own module.
    for (const route of hasSearchRoute ? [...UPLOAD_API_ROUTES, SEARCH_API_ROUTE] : UPLOAD_API_ROUTES) {
      const [method, path] = route.split(' ') as [keyof typeof apigw.HttpMethod, string];
      this.api.addRoutes({
        path,
        methods: [apigw.HttpMethod[method]],
        integration: route === SEARCH_API_ROUTE ? searchIntegration : integration,
      });
    }

    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });
    this.stage = this.api.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit, burstLimit },
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(this.accessLogGroup),
        format: AccessLogFormat.jsonWithStandardFields(),
      },
    });
    this.url = this.stage.url;

    if (auth.kind === 'iam') {
      this.invokePolicy = new iam.ManagedPolicy(this, 'InvokePolicy', {
        description: hasSearchRoute
          ? 'Allows calling the image-describer upload API (POST /uploads, GET /uploads/{id}, GET /search)'
          : 'Allows calling the image-describer upload API (POST /uploads, GET /uploads/{id})',
        statements: [
          new iam.PolicyStatement({
            actions: ['execute-api:Invoke'],
            resources: [
              this.api.arnForExecuteApi('POST', '/uploads', '$default'),
              this.api.arnForExecuteApi('GET', '/uploads/*', '$default'),
              ...(hasSearchRoute ? [this.api.arnForExecuteApi('GET', '/search', '$default')] : []),
            ],
          }),
        ],
      });
      // The finding names the ARN as cdk-nag renders it: pseudo parameters unless the stack has an env.
      const stack = Stack.of(this);
      const apiLogicalId = stack.resolve(stack.getLogicalId(this.api.node.defaultChild as apigw.CfnApi));
      const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
      const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
      Validations.of(this.invokePolicy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:${region}:${account}:<${apiLogicalId}>/$default/GET/uploads/*]`,
        reason:
          'GET /uploads/{id}: the id is a path parameter, so the route ARN ends in a wildcard; nothing else.',
      });
    }
  }
}

function assertAuth(auth: UploadApiAuth): void {
  if (auth.kind === 'iam') return;
  if (auth.kind !== 'jwt') {
    throw new ConfigError(expected('"iam" or "jwt"', 'auth.kind', (auth as { kind?: unknown }).kind));
  }
  let issuer: URL | undefined;
  try {
    issuer = new URL(auth.issuer);
  } catch {
    issuer = undefined;
  }
  if (issuer?.protocol !== 'https:') {
    throw new ConfigError(expected('an https issuer URL', 'auth.issuer', auth.issuer));
  }
  if (
    !Array.isArray(auth.audience) ||
    auth.audience.length === 0 ||
    auth.audience.some((a) => a.trim() === '')
  ) {
    throw new ConfigError(expected('one or more non-empty audiences', 'auth.audience', auth.audience));
  }
}
