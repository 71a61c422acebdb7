import { ENV } from './settings.ts';

/**
 * The service's name in every log line and metric (Powertools `service`), and the one CloudWatch
 * namespace its metrics go to: the Lambda functions, the upload API and the local stack use these,
 * and infra/ sets Powertools' own environment variables from them.
 */
export const SERVICE_NAME = 'image-describer';
export const METRICS_NAMESPACE = 'ImageDescriber';

/** The log level a deployed function starts with. */
export const DEFAULT_LOG_LEVEL = 'INFO';

/** The environment every deployed function gets, so Powertools agrees with the code when it reads it. */
export function powertoolsEnvironment(): Record<string, string> {
  return {
    POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
    POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
    [ENV.LOG_LEVEL]: DEFAULT_LOG_LEVEL,
  };
}
