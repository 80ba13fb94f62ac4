import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as logs from 'aws-cdk-lib/aws-logs';
import { describe, expect, test } from 'vitest';
import type { EksAuthSyncProps } from '../../infra/eks-auth-sync.js';
import { settingsFromConfig } from '../../infra/settings.js';
import { parseYamlText } from '../../lambda/config.js';
import { ConfigError } from '../../lambda/errors.js';
import { buildWithoutBundling } from '../support/cdk.js';

const FILE = '/deploy/prod.yaml';
const BASE = 'cluster: {name: prod}\nscanners: [{type: static, static: {roles: []}}]\n';

/** The settings for BASE plus a `deployment` section given as a YAML flow mapping. */
function settingsWith(deployment: string) {
  return settingsFromConfig(parseYamlText(`${BASE}deployment: ${deployment}\n`, FILE), FILE);
}

function problem(deployment: string): string {
  try {
    settingsWith(deployment);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected the deployment section to be rejected');
}

/** Synthesizes the construct with `props`, without bundling the handler (it has its own tests). */
function template(props: EksAuthSyncProps): Template {
  return buildWithoutBundling(props).template();
}

describe('settingsFromConfig', () => {
  test('without a deployment section the props carry only the config and its directory (relative paths resolve there), so every construct default holds', () => {
    const document = parseYamlText(BASE, FILE);
    expect(settingsFromConfig(document, FILE)).toEqual({ props: { config: document, configDir: '/deploy' } });
  });

  test('an empty deployment section changes nothing either', () => {
    expect(Object.keys(settingsWith('{}').props).sort()).toEqual(['config', 'configDir']);
  });

  test.each([
    ['schedule: rate(5 minutes)', (p: EksAuthSyncProps) => p.schedule?.expressionString, 'rate(5 minutes)'],
    ['schedule: rate(1 hour)', (p: EksAuthSyncProps) => p.schedule?.expressionString, 'rate(1 hour)'],
    ['schedule: cron(0 6 * * ? *)', (p: EksAuthSyncProps) => p.schedule?.expressionString, 'cron(0 6 * * ? *)'],
    ['dryRunOnly: true', (p: EksAuthSyncProps) => p.dryRunOnly, true],
    ['dryRunOnly: false', (p: EksAuthSyncProps) => p.dryRunOnly, false],
    ['memorySize: 512', (p: EksAuthSyncProps) => p.memorySize, 512],
    ['timeoutSeconds: 300', (p: EksAuthSyncProps) => p.timeout?.toSeconds(), 300],
    ['logRetentionDays: 90', (p: EksAuthSyncProps) => p.logRetention, logs.RetentionDays.THREE_MONTHS],
    ['noSuccessAlarmMinutes: 90', (p: EksAuthSyncProps) => p.noSuccessAlarmAfter?.toMinutes(), 90],
    ['createAccessEntry: true', (p: EksAuthSyncProps) => p.createAccessEntry, true],
    ['kubernetesGroup: aws-auth-editors', (p: EksAuthSyncProps) => p.kubernetesGroup, 'aws-auth-editors'],
    ['kubernetesUsername: "sync:{{SessionName}}"', (p: EksAuthSyncProps) => p.kubernetesUsername, 'sync:{{SessionName}}'],
  ])('deployment {%s} reaches the construct', (field, read, expected) => {
    expect(read(settingsWith(`{${field}}`).props)).toEqual(expected);
  });

  test('deployment.stackName names the stack', () => {
    expect(settingsWith('{stackName: EksAuthSync-prod}').stackName).toBe('EksAuthSync-prod');
    expect(settingsWith('{}').stackName).toBeUndefined();
  });

  test('deployment.alarmTopicArn makes the failure alarm publish to that topic', () => {
    const { props } = settingsWith('{alarmTopicArn: "arn:aws:sns:eu-west-1:111122223333:oncall"}');
    const stack = new Stack(new App(), 'Alarms');
    const alarm = new cloudwatch.Alarm(stack, 'Alarm', {
      metric: new cloudwatch.Metric({ namespace: 'N', metricName: 'M' }), threshold: 1, evaluationPeriods: 1,
    });
    if (!props.alarmAction) throw new Error('expected an alarm action');
    alarm.addAlarmAction(props.alarmAction);
    Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmActions: ['arn:aws:sns:eu-west-1:111122223333:oncall'],
    });
  });

  test('a bad scanner config fails here, before any construct is built, with its path', () => {
    const document = parseYamlText('cluster: {name: c}\nscanners: [{type: iam, iam: {mode: fast}}]', FILE);
    expect(() => settingsFromConfig(document, FILE)).toThrow(/\/deploy\/prod\.yaml: scanners\[0\]\.iam\.mode: expected one of/);
  });

  test.each([
    ['{timeoutSeconds: 901}', 'deployment.timeoutSeconds: must be at most 900'],
    ['{timeoutSeconds: 5}', 'deployment.timeoutSeconds: must be at least 30 (a run stops 10 s before its timeout)'],
    ['{timeoutSeconds: 1.5}', 'deployment.timeoutSeconds: expected int'],
    ['{memorySize: 64}', 'deployment.memorySize: must be at least 128'],
    ['{memorySize: 20000}', 'deployment.memorySize: must be at most 10240'],
    ['{memorySize: "256"}', 'deployment.memorySize: expected number, got string "256"'],
    ['{dryRunOnly: "yes"}', 'deployment.dryRunOnly: expected boolean, got string "yes"'],
    ['{createAccessEntry: 1}', 'deployment.createAccessEntry: expected boolean, got number 1'],
    ['{logRetentionDays: 31}', 'deployment.logRetentionDays: expected one of 1, 3, 5, 7, 14, 30, 60, 90, 120'],
    ['{logRetentionDays: 9999}', 'deployment.logRetentionDays: expected one of'],
    ['{logRetentionDays: 0}', 'deployment.logRetentionDays: must be at least 1'],
    ['{schedule: every 5 minutes}', 'deployment.schedule: expected an EventBridge schedule expression: rate(15 minutes) or cron(0 * * * ? *)'],
    ['{schedule: rate(1 minutes)}', 'deployment.schedule: write rate(1 minute) or rate(N minutes)'],
    ['{schedule: rate(5 hour)}', 'deployment.schedule: write rate(1 hour) or rate(N hours)'],
    ['{schedule: rate(0 minutes)}', 'deployment.schedule: a rate must be at least 1'],
    ['{schedule: rate(5 seconds)}', 'deployment.schedule: expected an EventBridge schedule expression'],
    ['{schedule: cron(0 * * * *)}', 'deployment.schedule: a cron expression has six fields'],
    ['{schedule: cron(0 6 * * MON *)}', 'deployment.schedule: in a cron expression, day-of-month or day-of-week must be ?'],
    ['{alarmTopicArn: oncall}', 'deployment.alarmTopicArn: expected a standard SNS topic ARN such as arn:aws:sns:eu-west-1:111122223333:oncall'],
    ['{alarmTopicArn: "arn:aws:sns:eu-west-1:111122223333:oncall.fifo"}', 'deployment.alarmTopicArn: expected a standard SNS topic ARN'],
    ['{kubernetesGroup: system:masters}', 'deployment.kubernetesGroup: an access entry cannot bind a system: group'],
    ['{kubernetesGroup: "two words"}', 'deployment.kubernetesGroup: group name "two words" may only contain'],
    ['{kubernetesUsername: "eks:sync"}', 'deployment.kubernetesUsername: an access entry username cannot start with system:, eks:, aws:, amazon: or iam:'],
    ['{kubernetesUsername: ""}', 'deployment.kubernetesUsername: empty username'],
    // EKS refuses a template that does not follow a literal prefix with a colon, even one that cannot render a colon.
    ['{kubernetesUsername: "{{SessionName}}"}', 'deployment.kubernetesUsername: an access entry username may use a template only after a literal prefix with a colon'],
    ['{stackName: 1-sync}', 'deployment.stackName: expected a CloudFormation stack name'],
    ['{stackName: eks_sync}', 'deployment.stackName: expected a CloudFormation stack name'],
    ['{noSuccessAlarmMinutes: 10081}', 'deployment.noSuccessAlarmMinutes: must be at most 10080'],
    ['{noSuccessAlarmMinutes: 0}', 'deployment.noSuccessAlarmMinutes: must be at least 1'],
    ['{timeout: 120}', 'deployment.timeout: unknown key'],
  ])('deployment %s is rejected: %s', (deployment, message) => {
    const text = problem(deployment);
    expect(text.startsWith(`${FILE}: `)).toBe(true);
    expect(text).toContain(message);
  });

  test('every problem in the section is reported at once', () => {
    const text = problem('{memorySize: 1, timeoutSeconds: 1000, dryRunOnly: 0}');
    expect(text).toContain('3 problems');
    for (const field of ['memorySize', 'timeoutSeconds', 'dryRunOnly']) expect(text).toContain(`deployment.${field}:`);
  });
});

describe('the construct built from the settings', () => {
  const full = `{schedule: rate(30 minutes), dryRunOnly: true, memorySize: 1024, timeoutSeconds: 600, logRetentionDays: 14,
    alarmTopicArn: "arn:aws:sns:eu-west-1:111122223333:oncall", noSuccessAlarmMinutes: 120, createAccessEntry: true,
    kubernetesGroup: aws-auth-editors, kubernetesUsername: aws-auth-sync, stackName: S}`;

  test('validates the config it ships, deployment section included', () => {
    const { construct } = buildWithoutBundling(settingsWith(full).props);
    expect(construct.config.deployment).toMatchObject({ memorySize: 1024, stackName: 'S' });
  });

  test('the deployment section changes no permission of the function', () => {
    const policies = (t: Template) => JSON.stringify(t.findResources('AWS::IAM::Policy'));
    const without = template(settingsFromConfig(parseYamlText(BASE, FILE), FILE).props);
    expect(policies(template(settingsWith(full).props))).toEqual(policies(without));
  });

  test('the schedule, memory, timeout, retention and access entry follow the section', () => {
    const t = template(settingsWith(full).props);
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(30 minutes)' });
    t.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 1024,
      Timeout: Duration.minutes(10).toSeconds(),
      Environment: { Variables: { DRY_RUN_ONLY: 'true' } },
    });
    t.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 14 });
    t.hasResourceProperties('AWS::EKS::AccessEntry', { Username: 'aws-auth-sync', KubernetesGroups: ['aws-auth-editors'] });
  });

  test('the no-success alarm waits the section\'s noSuccessAlarmMinutes and, like every alarm, pages the topic', () => {
    const t = template(settingsWith(full).props);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ScheduledRunSucceeded', Period: 300, EvaluationPeriods: 24 });
    t.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { AlarmActions: ['arn:aws:sns:eu-west-1:111122223333:oncall'] }, 3);
  });
});
