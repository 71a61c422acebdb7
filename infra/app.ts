import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CONTEXT_KEYS, stackPropsFromContext } from './config.ts';
import { ImageDescriberStack } from './image-describer-stack.ts';

/**
 * `npx cdk synth` / `npx cdk deploy`: one stack, configured by context (`-c key=value`, see
 * infra/config.ts), checked by cdk-nag's AwsSolutions pack (a finding fails the synth).
 */
const app = new App();
new ImageDescriberStack(app, app.node.tryGetContext(CONTEXT_KEYS.stackName) ?? 'ImageDescriber', {
  ...stackPropsFromContext(app.node),
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
