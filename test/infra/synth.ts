import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type CfnResource, type Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { REPO_ROOT } from '../../infra/describer-image.ts';
import { ImageDescriberStack, type ImageDescriberStackProps } from '../../infra/image-describer-stack.ts';

/** Models named in tests: ids only, nothing is fetched or built. */
export const TEST_MODELS = {
  fast: { id: 'test-org/fast-model', version: 'r1' },
  normal: { id: 'test-org/normal-model', version: 'r1' },
  questions: { id: 'test-org/questions-model', version: 'r1' },
  embedding: { id: 'test-org/embedding-model', version: 'r1' },
  embeddingDimensions: 512,
} as const;

/** The feature flags `cdk synth` uses (cdk.json), so tests synthesize what a deploy would. */
export function cdkJsonContext(): Record<string, unknown> {
  return JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')).context;
}

export interface Synthesized {
  readonly stack: ImageDescriberStack;
  readonly template: Template;
  readonly outdir: string;
  /** cdk-nag (AwsSolutions) violations left after the acknowledgements. */
  readonly nagViolations: ReadonlyArray<{ ruleName: string; paths: string[] }>;
  readonly cleanup: () => void;
}

/**
 * Synthesizes one stack with cdk-nag's AwsSolutions pack, as `cdk synth` does. `bundle: false`
 * skips esbuild for the upload function (a dummy asset), for tests that do not look at it.
 */
export function synthesize(
  props: ImageDescriberStackProps = {},
  options: { bundle?: boolean } = {},
): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), 'cdk-test-'));
  const context: Record<string, unknown> = { ...cdkJsonContext() };
  if (options.bundle === false) context['aws:cdk:bundling-stacks'] = [];
  const app = new App({ outdir, context });
  const stack = new ImageDescriberStack(app, 'Test', { models: TEST_MODELS, ...props });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  let nagViolations: Synthesized['nagViolations'] = [];
  try {
    app.synth();
  } catch (error) {
    if (!String(error).includes('Validation failed')) throw error;
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as {
      pluginReports: Array<{
        violations: Array<{ ruleName: string; violatingConstructs: Array<{ constructPath: string }> }>;
      }>;
    };
    nagViolations = report.pluginReports.flatMap((r) =>
      r.violations.map((v) => ({
        ruleName: v.ruleName,
        paths: v.violatingConstructs.map((c) => c.constructPath),
      })),
    );
  }
  return {
    stack,
    template: Template.fromStack(stack),
    outdir,
    nagViolations,
    cleanup: () => rmSync(outdir, { recursive: true, force: true }),
  };
}

export function logicalId(stack: Stack, construct: { node: { defaultChild?: unknown } }): string {
  return stack.resolve(stack.getLogicalId(construct.node.defaultChild as CfnResource));
}

/** The `Fn::GetAtt` of the stack's S3 Vectors index ARN (what VECTOR_INDEX_ARN and the grants name). */
export function vectorIndexArnOf(stack: ImageDescriberStack): { 'Fn::GetAtt': [string, 'IndexArn'] } {
  const index = stack.vectors?.index;
  if (!index) throw new Error('the stack has no vector index');
  return { 'Fn::GetAtt': [stack.resolve(stack.getLogicalId(index)), 'IndexArn'] };
}

/** An IAM resource as readable text: `<Bucket.Arn>/images/*`, `<Queue.Arn>`, `arn:<AWS::Partition>:...`. */
export function renderArn(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    if ('Ref' in v) return `<${v.Ref}>`;
    if ('Fn::GetAtt' in v) return `<${(v['Fn::GetAtt'] as string[]).join('.')}>`;
    if ('Fn::Join' in v) {
      const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
      return parts.map(renderArn).join(sep);
    }
  }
  return JSON.stringify(value);
}

/** Every action the role's policies allow, with the resources it is allowed on. */
export function allowedActions(template: Template, roleLogicalId: string): Map<string, string[]> {
  const policies = template.findResources('AWS::IAM::Policy');
  const allowed = new Map<string, string[]>();
  for (const policy of Object.values(policies)) {
    const roles = (policy.Properties.Roles as Array<{ Ref: string }>).map((r) => r.Ref);
    if (!roles.includes(roleLogicalId)) continue;
    for (const statement of policy.Properties.PolicyDocument.Statement as Array<Record<string, unknown>>) {
      if (statement.Effect !== 'Allow') continue;
      const actions = [statement.Action].flat() as string[];
      const resources = [statement.Resource].flat().map(renderArn);
      for (const action of actions) {
        allowed.set(action, [...new Set([...(allowed.get(action) ?? []), ...resources])].sort());
      }
    }
  }
  return allowed;
}
