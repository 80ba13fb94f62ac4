import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Duration, type Stack, Validations } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import { describe, expect, test } from 'vitest';
import { CONFIG_FILE_IN_ASSET, type EksAuthSyncProps } from '../../infra/eks-auth-sync.js';
import { leastPrivilegeStatements } from '../../infra/policy.js';
import { parseYamlText } from '../../lambda/config.js';
import { buildWithoutBundling } from '../support/cdk.js';

const EXAMPLE = join(import.meta.dirname, '../../examples/cdk-cluster.yaml');
const exampleConfig = (): unknown => parseYamlText(readFileSync(EXAMPLE, 'utf8'), EXAMPLE);
const configDir = join(import.meta.dirname, '../../examples');

/** The example config's stack with `props` overriding, without bundling (see test/support/cdk.ts). */
function build(
  props: Partial<EksAuthSyncProps> | ((stack: Stack) => Partial<EksAuthSyncProps>) = {},
  options: { nag?: boolean } = {},
) {
  return buildWithoutBundling((stack) => {
    const overrides = typeof props === 'function' ? props(stack) : props;
    return { config: exampleConfig(), configDir, ...overrides };
  }, options);
}

interface PolicyDocument {
  Statement: { Action: string | string[]; Resource: unknown; Sid?: string; Condition?: unknown }[];
}

function statements(template: Template): PolicyDocument['Statement'] {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
    (policy) => (policy as { Properties: { PolicyDocument: PolicyDocument } }).Properties.PolicyDocument.Statement,
  );
}

describe('EksAuthSync', () => {
  test('the function runs on Node.js 24 on arm64 with 256 MB, a 2-minute timeout and one concurrent run', () => {
    build().template().hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      MemorySize: 256,
      Timeout: 120,
      ReservedConcurrentExecutions: 1,
      Handler: 'index.handler',
      Environment: { Variables: Match.objectLike({ CONFIG_PATH: CONFIG_FILE_IN_ASSET, DRY_RUN_ONLY: 'false' }) },
    });
  });

  test('memory, timeout and dry-run-only mode follow the props', () => {
    build({ memorySize: 512, timeout: Duration.seconds(90), dryRunOnly: true }).template().hasResourceProperties(
      'AWS::Lambda::Function',
      { MemorySize: 512, Timeout: 90, Environment: { Variables: Match.objectLike({ DRY_RUN_ONLY: 'true' }) } },
    );
  });

  test('a large static mapping list stays out of the environment, which Lambda caps at 4 KB', () => {
    const roles = Array.from({ length: 2_000 }, (_, i) => ({
      rolearn: `arn:aws:iam::111122223333:role/team-${i}`,
      username: `team-${i}`,
      groups: ['developers'],
    }));
    const config = { cluster: { name: 'big' }, scanners: [{ type: 'static', static: { roles } }] };
    const fn = Object.values(build({ config }).template().findResources('AWS::Lambda::Function'))[0] as {
      Properties: { Environment: { Variables: Record<string, string> } };
    };
    expect(JSON.stringify(fn.Properties.Environment.Variables).length).toBeLessThan(1_024);
  });

  test('an EventBridge rule runs the function every 15 minutes by default', () => {
    build().template().hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(15 minutes)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('SyncFunction'), 'Arn'] } })],
    });
  });

  test('the schedule can be changed', () => {
    build({ schedule: events.Schedule.cron({ minute: '0' }) }).template().hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'cron(0 * * * ? *)',
    });
  });

  test('an alarm fires on the first failed run and triggers the given action', () => {
    const { template } = build((stack) => ({ alarmAction: new actions.SnsAction(new sns.Topic(stack, 'Topic')) }));
    template().hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Namespace: 'AWS/Lambda',
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('^Topic') }],
    });
  });

  test('logs go to an explicitly created log group kept for one month by default', () => {
    const template = build().template();
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    template.hasResourceProperties('AWS::Lambda::Function', {
      LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('SyncLogs') }, LogFormat: 'JSON' },
    });
  });

  test('no access entry is created unless asked for', () => {
    build().template().resourceCountIs('AWS::EKS::AccessEntry', 0);
  });

  test('the access entry binds the function role to its Kubernetes group only, with no access policy', () => {
    const template = build({ createAccessEntry: true, kubernetesGroup: 'aws-auth-editors' }).template();
    template.hasResourceProperties('AWS::EKS::AccessEntry', {
      ClusterName: 'prod-cluster',
      PrincipalArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('SyncRole'), 'Arn'] },
      Type: 'STANDARD',
      Username: 'eks-auth-sync',
      KubernetesGroups: ['aws-auth-editors'],
      AccessPolicies: Match.absent(),
    });
  });

  test('with a top-level aws.roleARN the access entry is for that role, which is the one reaching the cluster', () => {
    const config = parseYamlText(
      'cluster: {name: c}\naws: {roleARN: "arn:aws:iam::444455556666:role/cluster-writer"}\nscanners: [{type: static, static: {}}]',
      't',
    );
    build({ config, createAccessEntry: true }).template().hasResourceProperties('AWS::EKS::AccessEntry', {
      PrincipalArn: 'arn:aws:iam::444455556666:role/cluster-writer',
    });
  });

  test('the role holds exactly the statements derived from the config, plus writing its own logs', () => {
    const { construct, template } = build();
    const expected = leastPrivilegeStatements(construct.config, { partition: 'p', account: 'a', region: 'r', urlSuffix: 's' });
    const actual = statements(template());
    const sids = actual.map((s) => s.Sid).filter((sid) => sid !== undefined);
    expect(sids).toEqual(expected.map((s) => s.sid));
    const logWrite = actual.filter((s) => s.Sid === undefined);
    expect(logWrite).toEqual([
      {
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^SyncLogs/), 'Arn'] },
      },
    ]);
    expect(actual.find((s) => s.Sid === 'ReadIamIdentities')).toMatchObject({
      Action: 'iam:GetAccountAuthorizationDetails',
      Resource: '*',
    });
    expect(actual.find((s) => s.Sid === 'DescribeTheCluster')?.Resource).toEqual({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':eks:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':cluster/prod-cluster']],
    });
  });

  test.each([
    ['bulk IAM', '{type: iam, iam: {mode: bulk}}'],
    ['per-identity IAM', '{type: iam, iam: {mode: perIdentity}}'],
    ['SSM with a key', '{type: ssm, ssm: {path: /p, kmsKeyArn: "arn:aws:kms:eu-west-1:111122223333:key/k"}}'],
    ['an assumed role', '{type: iam, aws: {roleARN: "arn:aws:iam::444455556666:role/r"}, iam: {}}'],
  ])('no statement grants a wildcard action (%s)', (_name, scanner) => {
    const config = parseYamlText(`cluster: {name: c}\nscanners: [${scanner}]`, 'test.yaml');
    for (const statement of statements(build({ config }).template())) {
      expect([statement.Action].flat().filter((action) => action.includes('*'))).toEqual([]);
    }
  });

  test('the clusterName prop replaces the config\'s cluster name', () => {
    const { construct, template } = build({ clusterName: 'staging' });
    expect(construct.config.cluster.name).toBe('staging');
    expect(JSON.stringify(statements(template()))).toContain(':cluster/staging');
  });

  test('a bad config fails synth with the field path', () => {
    const config = parseYamlText('cluster: {name: c}\nscanners: [{type: iam, iam: {mode: fast}}]', 'test.yaml');
    expect(() => build({ config })).toThrow(/scanners\[0\]\.iam\.mode: expected one of "bulk", "perIdentity"/);
  });

  test('a file scanner naming a missing file fails synth with the field path', () => {
    const config = parseYamlText('cluster: {name: c}\nscanners: [{type: static, static: {}}, {type: file, file: {path: nope.yaml}}]', 't');
    expect(() => build({ config })).toThrow(/scanners\[1\]\.file\.path: the file .*nope\.yaml does not exist/);
  });

  test('cdk-nag AwsSolutions finds nothing unacknowledged, and every acknowledgement says why', () => {
    const perIdentity = parseYamlText('cluster: {name: c}\nscanners: [{type: iam, iam: {mode: perIdentity}}]', 't');
    const { app, construct } = build({ config: perIdentity, createAccessEntry: true }, { nag: true });
    expect(() => app.synth()).not.toThrow();
    const acknowledged = construct.node.findAll().flatMap((c) =>
      c.node.metadata
        .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .flatMap((entry) => Object.entries(entry.data as Record<string, string>)),
    );
    expect(acknowledged.map(([id]) => id).sort()).toEqual([
      'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      'AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/*]',
      'AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:user/*]',
    ]);
    for (const [, reason] of acknowledged) expect(reason.length).toBeGreaterThan(40);
  });

  test('cdk-nag reports a wildcard that the config brings in, rather than acknowledging it with no reason', () => {
    const anyKey = parseYamlText(
      'cluster: {name: c}\nscanners: [{type: ssm, ssm: {path: /eks/c/mappings, kmsKeyArn: "arn:aws:kms:eu-west-1:111122223333:key/*"}}]',
      't',
    );
    const { app } = build({ config: anyKey }, { nag: true });
    expect(() => app.synth()).toThrow(/AwsSolutions-IAM5\[Resource::arn:aws:kms:eu-west-1:111122223333:key\/\*\]/);
  });

  test('cdk-nag does report a wildcard that nobody acknowledged (the check above can fail)', () => {
    const staticOnly = parseYamlText('cluster: {name: c}\nscanners: [{type: static, static: {}}]', 't');
    const { app, construct } = build({ config: staticOnly }, { nag: true });
    construct.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['*'] }));
    expect(() => app.synth()).toThrow(/AwsSolutions-IAM5\[Resource::\*\]/);
  });
});
