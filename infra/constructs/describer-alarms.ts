import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ConfigError, expected } from '#engine/index.ts';

export interface DescriberAlarmsProps {
  /** Functions whose error rate is watched, by a short name used in the alarm's description. */
  readonly functions: Readonly<Record<string, lambda.IFunction>>;
  /** Dead-letter queues that should stay empty, by a short name. */
  readonly deadLetterQueues: Readonly<Record<string, sqs.IQueue>>;
  /**
   * Error rate (% of invocations over 5 minutes) that raises an alarm, in 2 of 3 periods so one bad
   * image in a quiet period does not page anyone.
   * @default 5
   */
  readonly errorRatePercent?: number;
  /**
   * Alarms made elsewhere (the search's bytes-scanned alarm) that should notify the same topic.
   * @default - none
   */
  readonly otherAlarms?: readonly cloudwatch.Alarm[];
  /**
   * Where alarm state changes are sent.
   * @default - no action: the alarms are visible in the CloudWatch console only
   */
  readonly alarmTopic?: sns.ITopic;
}

/**
 * Alarms that say "something needs a look": any message in a dead-letter queue (work that was given
 * up on), and a function failing more than a few percent of its invocations.
 */
export class DescriberAlarms extends Construct {
  public readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: DescriberAlarmsProps) {
    super(scope, id);
    const errorRatePercent = props.errorRatePercent ?? 5;
    if (!(errorRatePercent > 0 && errorRatePercent <= 100)) {
      throw new ConfigError(
        expected('a percentage above 0 and at most 100', 'errorRatePercent', errorRatePercent),
      );
    }
    const action = props.alarmTopic ? new SnsAction(props.alarmTopic) : undefined;

    for (const [name, queue] of Object.entries(props.deadLetterQueues)) {
      const alarm = new cloudwatch.Alarm(this, `${name}DeadLetters`, {
        alarmDescription: `${name}: messages in the dead-letter queue (given-up work; inspect, then redrive or run the backfill)`,
        metric: queue.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(5),
          statistic: 'Maximum',
        }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      this.alarms.push(alarm);
    }

    for (const [name, fn] of Object.entries(props.functions)) {
      const period = Duration.minutes(5);
      const alarm = new cloudwatch.Alarm(this, `${name}ErrorRate`, {
        alarmDescription: `${name}: more than ${errorRatePercent}% of invocations failed`,
        metric: new cloudwatch.MathExpression({
          label: `${name} error rate (%)`,
          expression: 'IF(invocations > 0, 100 * errors / invocations, 0)',
          usingMetrics: {
            errors: fn.metricErrors({ period, statistic: 'Sum' }),
            invocations: fn.metricInvocations({ period, statistic: 'Sum' }),
          },
          period,
        }),
        threshold: errorRatePercent,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      this.alarms.push(alarm);
    }

    if (action) {
      for (const alarm of [...this.alarms, ...(props.otherAlarms ?? [])]) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
    }
  }
}
