import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAwsTargets } from '#adapters/aws-config.ts';
import { ConfigError } from '#engine/errors.ts';
import { DEFAULT_HF_ENDPOINT } from '#engine/models/fetch-models.ts';
import { DEFAULT_QUESTIONS_FILE } from '#engine/questions/config.ts';
import { DEFAULT_ENGINE_SETTINGS, DEFAULT_MODELS_DIR, ENV, readEngineSettings } from '#engine/settings.ts';
import { readUploadSettings } from '#engine/uploads/settings.ts';
import { LOCAL_ENV, readLocalOptions, USAGE } from '../../functions/local/options.ts';
import { CONTEXT_KEYS, stackPropsFromContext } from '../../infra/config.ts';
import { logicalId, type Synthesized, synthesize } from '../infra/synth.ts';
import { firstCode, REPO_ROOT, readDoc, tableUnder } from './markdown.ts';

/**
 * docs/configuration.md states every default; these tests compare each one with what the code
 * does when the setting is not given, so the page cannot drift from the code.
 */
const doc = readDoc('docs/configuration.md');

/** `documented default` per first-column name; undefined when the cell says required / none. */
function documentedDefaults(
  heading: string,
  nameColumn = 0,
  defaultColumn = 1,
): Map<string, string | undefined> {
  const rows = tableUnder(doc, heading);
  return new Map(
    rows.map((cells) => {
      const name = firstCode(cells[nameColumn] ?? '');
      if (!name) throw new Error(`A row under "${heading}" has no name in backticks: ${cells.join(' | ')}`);
      return [name, firstCode(cells[defaultColumn] ?? '')];
    }),
  );
}

const noEnv = {};

describe('docs/configuration.md: environment variables', () => {
  const documented = documentedDefaults('Environment variables');
  const engine = readEngineSettings(noEnv);
  const upload = readUploadSettings({ [ENV.BUCKET_NAME]: 'b' });
  const fromCode: Record<string, () => string | undefined> = {
    [ENV.MODELS_DIR]: () => `./${relative(REPO_ROOT, engine.modelsDir)}`,
    [ENV.ORT_THREADS]: () => String(engine.threads),
    [ENV.MAX_INPUT_BYTES]: () => String(engine.maxInputBytes),
    [ENV.MAX_INPUT_PIXELS]: () => String(engine.maxInputPixels),
    [ENV.WORKING_SIZE]: () => String(engine.workingSize),
    [ENV.OCR_STAGE]: () => engine.ocrStage,
    [ENV.BUCKET_NAME]: () => requiredIn(() => readAwsTargets(noEnv, { needsQueue: false }), ENV.BUCKET_NAME),
    [ENV.INPUT_PREFIX]: () => upload.layout.inputPrefix,
    [ENV.SIDECAR_PREFIX]: () => upload.layout.sidecarPrefix,
    [ENV.DETAILED_QUEUE_URL]: () =>
      requiredIn(
        () => readAwsTargets({ [ENV.BUCKET_NAME]: 'b' }, { needsQueue: true }),
        ENV.DETAILED_QUEUE_URL,
      ),
    [ENV.UPLOAD_MAX_BYTES]: () => String(upload.maxBytes),
    [ENV.QUESTIONS_CONFIG]: () => relative(REPO_ROOT, DEFAULT_QUESTIONS_FILE),
    // No default in the code: the stack sets them on the upload function.
    [ENV.SEARCH_WORKGROUP]: () => setByInfraOnSearch(ENV.SEARCH_WORKGROUP),
    [ENV.SEARCH_DATABASE]: () => setByInfraOnSearch(ENV.SEARCH_DATABASE),
    [ENV.SEARCH_TABLE]: () => setByInfraOnSearch(ENV.SEARCH_TABLE),
    [ENV.VECTOR_INDEX_ARN]: () => setByInfraOnSearch(ENV.VECTOR_INDEX_ARN),
    HF_ENDPOINT: () => DEFAULT_HF_ENDPOINT,
    // What infra/ sets on every function (the handlers pass it to Powertools).
    [ENV.LOG_LEVEL]: () => lambdaEnv(ENV.LOG_LEVEL),
    // Only a remote model with an API key gets it; the default lineup is local.
    [ENV.REMOTE_API_KEY_SECRET_ARN]: () => workerEnv(ENV.REMOTE_API_KEY_SECRET_ARN),
  };

  it('lists every variable the code reads', () => {
    expect([...documented.keys()].sort()).toEqual(Object.keys(fromCode).sort());
    expect(Object.values(ENV).filter((name) => !documented.has(name))).toEqual([]);
  });

  it.each([...documented.keys()])('%s: the documented default is the code default', (name) => {
    const actual = fromCode[name];
    expect(actual, `no code check for ${name}`).toBeDefined();
    expect(documented.get(name)).toBe(actual?.());
  });

  it('keeps the engine defaults the table is checked against (sanity: the test reads real values)', () => {
    expect(relative(REPO_ROOT, DEFAULT_MODELS_DIR)).toBe('models');
    expect(engine.ocrStage).toBe(DEFAULT_ENGINE_SETTINGS.ocrStage);
  });
});

describe('docs/configuration.md: local stack options', () => {
  const rows = tableUnder(doc, 'Local stack (`npm start`)');
  const defaults = readLocalOptions([], {});
  if (defaults === 'help') throw new Error('unexpected help');
  const shownDir = (dir: string | undefined) => (dir ? relative(process.cwd(), dir) : undefined);
  const fromCode: Record<string, string | undefined> = {
    '--port': String(defaults.httpPort),
    '--s3-port': String(defaults.s3Port),
    '--sqs-port': String(defaults.sqsPort),
    '--data': shownDir(defaults.dataDir),
    '--inbox': shownDir(defaults.inboxDir),
    '--mirror': String(defaults.mirror),
    '--models': `./${relative(REPO_ROOT, readEngineSettings(noEnv).modelsDir)}`,
    '--questions': defaults.questionsFile ?? relative(REPO_ROOT, DEFAULT_QUESTIONS_FILE),
    '--no-fetch': String(!defaults.fetchModels),
    '--worker-process': String(defaults.workerProcess),
  };

  it('lists every flag of npm start -- --help and every LOCAL_ variable', () => {
    const flags = [...USAGE.matchAll(/^\s+(--[a-z0-9-]+)/gm)].map((m) => m[1]);
    const tableText = rows.map((r) => r.join(' ')).join('\n');

    expect(flags.filter((flag) => flag !== '--help' && !tableText.includes(`\`${flag}\``))).toEqual([]);
    expect(Object.values(LOCAL_ENV).filter((name) => !tableText.includes(`\`${name}\``))).toEqual([]);
  });

  it.each(rows.map((r) => [firstCode(r[0] ?? '') ?? '', r] as const))(
    '%s: the documented default and variable are the code’s',
    (flag, cells) => {
      expect(fromCode, `no code check for ${flag}`).toHaveProperty([flag]);
      expect(firstCode(cells[2] ?? '')).toBe(fromCode[flag]);
      const variable = firstCode(cells[1] ?? '');
      if (variable?.startsWith('LOCAL_')) {
        // The variable really sets that option.
        const set = readLocalOptions([], { [variable]: variable.endsWith('PORT') ? '1234' : '/tmp/x' });
        expect(JSON.stringify(set)).not.toBe(JSON.stringify(defaults));
      }
    },
  );
});

describe('docs/configuration.md: deploy switches', () => {
  const documented = documentedDefaults('Deploy switches (`cdk deploy -c key=value`)');
  let synth: Synthesized;

  beforeAll(() => {
    synth = synthesizeOnce();
  });

  const resources = () => cfnResources(synth);
  const props = (construct: { node: { defaultChild?: unknown } }) =>
    resources()[logicalId(synth.stack, construct)]?.Properties;
  const ofType = (type: string) => Object.values(resources()).filter((r) => r.Type === type);

  const fromCode: Record<string, () => string | undefined> = {
    [CONTEXT_KEYS.stackName]: () =>
      /tryGetContext\(CONTEXT_KEYS\.stackName\)\s*\?\?\s*'([^']+)'/.exec(
        readFileSync(join(REPO_ROOT, 'infra/app.ts'), 'utf8'),
      )?.[1],
    [CONTEXT_KEYS.inputPrefix]: () => synth.stack.descriptionBucket.inputPrefix,
    [CONTEXT_KEYS.sidecarPrefix]: () => synth.stack.descriptionBucket.sidecarPrefix,
    [CONTEXT_KEYS.fastMemoryMB]: () => String(props(synth.stack.fastDescribe.fn).MemorySize),
    [CONTEXT_KEYS.fastReservedConcurrency]: () =>
      String(props(synth.stack.fastDescribe.fn).ReservedConcurrentExecutions ?? 'none'),
    [CONTEXT_KEYS.detailedMemoryMB]: () => String(props(synth.stack.detailedWorker.fn).MemorySize),
    [CONTEXT_KEYS.detailedMaxConcurrency]: () =>
      String(ofType('AWS::Lambda::EventSourceMapping')[0]?.Properties.ScalingConfig.MaximumConcurrency),
    [CONTEXT_KEYS.jwtIssuer]: () => noneUnless(ofType('AWS::ApiGatewayV2::Authorizer').length > 0),
    [CONTEXT_KEYS.jwtAudience]: () => noneUnless(ofType('AWS::ApiGatewayV2::Authorizer').length > 0),
    [CONTEXT_KEYS.corsOrigins]: () =>
      noneUnless(ofType('AWS::ApiGatewayV2::Api').some((api) => api.Properties.CorsConfiguration)),
    [CONTEXT_KEYS.apiRateLimit]: () =>
      String(ofType('AWS::ApiGatewayV2::Stage')[0]?.Properties.DefaultRouteSettings.ThrottlingRateLimit),
    [CONTEXT_KEYS.apiBurstLimit]: () =>
      String(ofType('AWS::ApiGatewayV2::Stage')[0]?.Properties.DefaultRouteSettings.ThrottlingBurstLimit),
    [CONTEXT_KEYS.uploadMaxBytes]: () =>
      props(synth.stack.uploadApi.fn).Environment.Variables[ENV.UPLOAD_MAX_BYTES],
    // Unset: the functions get no OCR_STAGE and use the engine's default.
    [CONTEXT_KEYS.ocrStage]: () =>
      props(synth.stack.fastDescribe.fn).Environment.Variables[ENV.OCR_STAGE] ??
      readEngineSettings(noEnv).ocrStage,
    [CONTEXT_KEYS.questions]: () => relative(REPO_ROOT, DEFAULT_QUESTIONS_FILE),
    [CONTEXT_KEYS.alarmTopicArn]: () =>
      noneUnless(ofType('AWS::CloudWatch::Alarm').some((alarm) => alarm.Properties.AlarmActions)),
    [CONTEXT_KEYS.requireModels]: () =>
      String(stackPropsFromContext({ tryGetContext: () => undefined }).requireModels),
    [CONTEXT_KEYS.remoteApiKeySecretArn]: () => noneUnless(ofType('AWS::SecretsManager::Secret').length > 0),
    [CONTEXT_KEYS.bucketRemovalPolicy]: () =>
      resources()[
        logicalId(synth.stack, synth.stack.descriptionBucket.bucket)
      ]?.DeletionPolicy?.toLowerCase(),
  };

  it('lists every context key infra/config.ts reads', () => {
    expect([...documented.keys()].sort()).toEqual(Object.values(CONTEXT_KEYS).sort());
  });

  it.each([...documented.keys()])('%s: the documented default is what a deploy without -c builds', (key) => {
    const actual = fromCode[key];
    expect(actual, `no code check for ${key}`).toBeDefined();
    expect(documented.get(key)).toBe(actual?.());
  });

  function noneUnless(present: boolean): string | undefined {
    return present ? 'present' : undefined;
  }
});

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation properties are untyped JSON
type CfnJson = any;
interface CfnResourceJson {
  readonly Type: string;
  readonly Properties: CfnJson;
  readonly DeletionPolicy?: string;
}

function cfnResources(synth: Synthesized): Record<string, CfnResourceJson> {
  return synth.template.toJSON().Resources;
}

/** The value infra/ puts in the fast function's environment. */
function lambdaEnv(name: string): string | undefined {
  const synth = synthesizeOnce();
  return cfnResources(synth)[logicalId(synth.stack, synth.stack.fastDescribe.fn)]?.Properties.Environment
    .Variables[name];
}

function workerEnv(name: string): string | undefined {
  const synth = synthesizeOnce();
  return cfnResources(synth)[logicalId(synth.stack, synth.stack.detailedWorker.fn)]?.Properties.Environment
    .Variables[name];
}

/** undefined (the docs say "none: infra/ sets it") when the function answering GET /search has it. */
function setByInfraOnSearch(name: string): string | undefined {
  const synth = synthesizeOnce();
  const fn = synth.stack.searchFunction?.fn ?? synth.stack.uploadApi.fn;
  const env = cfnResources(synth)[logicalId(synth.stack, fn)]?.Properties.Environment.Variables;
  return env?.[name] === undefined ? 'not set by infra/' : undefined;
}

let shared: Synthesized | undefined;
/** What `cdk deploy` without any -c switch builds (the upload bundle is not needed here); once per file. */
function synthesizeOnce(): Synthesized {
  shared ??= synthesize(stackPropsFromContext({ tryGetContext: () => undefined }), { bundle: false });
  return shared;
}
afterAll(() => shared?.cleanup());

/** undefined when reading without the variable fails naming it (the docs say "required"). */
function requiredIn(read: () => unknown, name: string): string | undefined {
  try {
    read();
  } catch (error) {
    if (error instanceof ConfigError && error.message.includes(name)) return undefined;
    throw error;
  }
  return 'not required';
}
