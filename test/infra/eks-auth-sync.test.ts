import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duration, type Stack, Tags, Validations } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import { afterEach, describe, expect, test, vi } from 'vitest';
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
  }, 120_000); // synthesizing around 2,000 roles takes tens of seconds on a busy 2-core machine

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

  test.each([
    ['the default 15-minute rate', undefined, 900],
    ['an hourly rate', events.Schedule.rate(Duration.hours(1)), 3_600],
    ['a daily rate, capped at the 6 hours Lambda allows', events.Schedule.rate(Duration.days(1)), 21_600],
    ['a cron schedule, at Lambda\'s floor of one minute', events.Schedule.cron({ minute: '0', hour: '6' }), 60],
  ])('Lambda never retries a failed run itself, and drops a queued event older than one schedule period (%s)', (_name, schedule, maxAge) => {
    build(schedule ? { schedule } : {}).template().hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: Match.stringLikeRegexp('SyncFunction') },
      Qualifier: '$LATEST',
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: maxAge,
    });
  });

  const alarms = (template: Template): Record<string, Record<string, unknown>> =>
    Object.fromEntries(
      Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((r) => {
        const props = (r as { Properties: Record<string, unknown> }).Properties;
        return [props['MetricName'] as string, props];
      }),
    );
  const dimensions = [{ Name: 'cluster', Value: 'prod-cluster' }, { Name: 'service', Value: 'eks-auth-sync' }];

  test('the stack alarms on the handler\'s metrics only: no alarm on a single failed run', () => {
    const template = build().template();
    template.resourceCountIs('AWS::CloudWatch::Alarm', 3);
    expect(Object.keys(alarms(template)).sort()).toEqual(['GuardRefusals', 'InvalidConfig', 'ScheduledRunSucceeded']);
    for (const alarm of Object.values(alarms(template))) {
      expect(alarm).toMatchObject({ Namespace: 'EksAuthSync', Statistic: 'Sum' });
      expect(alarm['Dimensions']).toEqual(expect.arrayContaining(dimensions));
      expect(alarm['Dimensions']).toHaveLength(2);
    }
  });

  test('by default the no-success alarm fires after two 15-minute periods without a successful scheduled run, or without any run', () => {
    expect(alarms(build().template())['ScheduledRunSucceeded']).toMatchObject({
      Period: 300,
      EvaluationPeriods: 6,
      DatapointsToAlarm: 6,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    });
  });

  test.each([
    ['an hourly rate', { schedule: events.Schedule.rate(Duration.hours(1)) }, { Period: 300, EvaluationPeriods: 24 }],
    ['a daily rate, in hours beyond a day', { schedule: events.Schedule.rate(Duration.days(1)) }, { Period: 3_600, EvaluationPeriods: 48 }],
    ['a five-day rate, capped at the 7 days CloudWatch looks back', { schedule: events.Schedule.rate(Duration.days(5)) }, { Period: 3_600, EvaluationPeriods: 168 }],
    ['an hourly cron', { schedule: events.Schedule.cron({ minute: '0' }) }, { Period: 300, EvaluationPeriods: 24 }],
    ['a daily cron', { schedule: events.Schedule.cron({ minute: '0', hour: '6' }) }, { Period: 3_600, EvaluationPeriods: 48 }],
    ['an explicit window', { noSuccessAlarmAfter: Duration.hours(3) }, { Period: 300, EvaluationPeriods: 36 }],
    ['an explicit window in odd minutes', { noSuccessAlarmAfter: Duration.minutes(47) }, { Period: 60, EvaluationPeriods: 47 }],
  ])('the no-success window follows the schedule or the prop (%s)', (_name, props, expected) => {
    expect(alarms(build(props).template())['ScheduledRunSucceeded']).toMatchObject({ ...expected, DatapointsToAlarm: expected.EvaluationPeriods });
  });

  test.each([
    ['a window over 7 days', { noSuccessAlarmAfter: Duration.days(8) }, /noSuccessAlarmAfter: 8 days is longer than the 7 days/],
    ['a window no longer than the schedule period', { noSuccessAlarmAfter: Duration.minutes(15) }, /noSuccessAlarmAfter: 15 minutes must be longer than the schedule period \(rate\(15 minutes\)\)/],
    ['a monthly cron without a window', { schedule: events.Schedule.cron({ minute: '0', hour: '6', day: '1' }) }, /schedule cron\(0 6 1 \* \? \*\): runs may be a week or more apart.*deployment\.noSuccessAlarmMinutes/],
  ])('synth refuses %s, which no alarm could watch', (_name, props, message) => {
    expect(() => build(props)).toThrow(message);
  });

  test('a monthly cron can be watched over an explicit window', () => {
    const props = { schedule: events.Schedule.cron({ minute: '0', hour: '6', day: '1' }), noSuccessAlarmAfter: Duration.days(7) };
    expect(alarms(build(props).template())['ScheduledRunSucceeded']).toMatchObject({ Period: 3_600, EvaluationPeriods: 168 });
  });

  test.each(['GuardRefusals', 'InvalidConfig'])('an alarm fires on the first %s, which retrying cannot fix', (metricName) => {
    expect(alarms(build().template())[metricName]).toMatchObject({
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
  });

  test('every alarm triggers the given action', () => {
    const { template } = build((stack) => ({ alarmAction: new actions.SnsAction(new sns.Topic(stack, 'Topic')) }));
    for (const alarm of Object.values(alarms(template()))) {
      expect(alarm['AlarmActions']).toEqual([{ Ref: expect.stringMatching(/^Topic/) }]);
    }
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
    expect(construct.config).toMatchObject({ cluster: { name: 'staging' } });
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
      'AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:eks:<AWS::Region>:<AWS::AccountId>:access-entry/c/*]',
      'AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/*]',
      'AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:user/*]',
    ]);
    for (const [, reason] of acknowledged) expect(reason.length).toBeGreaterThan(40);
  });

  test('cdk-nag stays clean when the function resolves role paths and writes access entries, and role/* gives both reasons', () => {
    const config = parseYamlText(
      'cluster: {name: c}\nsync: {target: both}\nscanners:\n' +
        '- {type: static, static: {roles: [{rolearn: "arn:aws:iam::111122223333:role/Admin", username: admin}]}}\n' +
        '- {type: ssm, ssm: {path: /eks/c/mappings}}\n- {type: iam, iam: {mode: perIdentity}}',
      't',
    );
    const { app, construct } = build({ config, createAccessEntry: true }, { nag: true });
    expect(() => app.synth()).not.toThrow();
    const reasons = Object.fromEntries(construct.role.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) => Object.entries(entry.data as Record<string, string>)));
    const roles = reasons['AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/*]'];
    expect(roles).toMatch(/path prefix the iam scanner filters on/);
    expect(roles).toMatch(/iam:GetRole resolves the IAM path/);
  });

  test('cdk-nag stays clean for the path-less static role names GetRole reaches (role/*/NAME, acknowledged)', () => {
    const config = parseYamlText(
      'cluster: {name: c}\nsync: {target: accessEntries}\nscanners:\n' +
        '- {type: static, static: {roles: [{rolearn: "arn:aws:iam::111122223333:role/Admin", username: admin}]}}',
      't',
    );
    const { app } = build({ config }, { nag: true });
    expect(() => app.synth()).not.toThrow();
  });

  test.each([
    ['configMap', []],
    ['accessEntries', ['eks:AssociateAccessPolicy', 'eks:CreateAccessEntry', 'eks:DeleteAccessEntry', 'eks:DescribeAccessEntry', 'eks:DisassociateAccessPolicy', 'eks:ListAccessEntries', 'eks:ListAssociatedAccessPolicies', 'eks:TagResource', 'eks:UpdateAccessEntry']],
  ])('the %s target synthesizes exactly its access-entry actions', (target, expected) => {
    const config = parseYamlText(`cluster: {name: c}\nsync: {target: ${target}}\nscanners: [{type: iam, iam: {mode: bulk}}]`, 't');
    const actions = statements(build({ config }).template()).flatMap((s) => [s.Action].flat()).filter((a) => a.startsWith('eks:') && a !== 'eks:DescribeCluster');
    expect(actions.sort()).toEqual(expected);
  });

  test('in the template, the writes on access entries hold only for entries with the ownership tag', () => {
    const config = parseYamlText('cluster: {name: c}\nsync: {target: accessEntries}\nscanners: [{type: static, static: {}}]', 't');
    const change = statements(build({ config }).template()).find((s) => s.Sid === 'ChangeOwnedAccessEntries');
    expect(change).toMatchObject({
      Condition: { StringEquals: { 'aws:ResourceTag/eks-auth-sync.io/managed': 'true' } },
      Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':eks:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':access-entry/c/*']] },
    });
  });

  test('iam:GetRole reaches exactly the path-less roles of a shipped file, under any path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'policy-file-'));
    try {
      writeFileSync(join(dir, 'm.yaml'), 'roles:\n- {rolearn: "arn:aws:iam::111122223333:role/Deployer", username: d}\n- {rolearn: "arn:aws:iam::111122223333:role/x/Pathed", username: p}\n');
      const config = { cluster: { name: 'c' }, sync: { target: 'accessEntries' }, scanners: [{ type: 'file', file: { path: 'm.yaml' } }] };
      const getRole = statements(build({ config, configDir: dir }).template()).find((s) => s.Sid === 'ResolveRolePaths');
      const arn = (tail: string): unknown => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, `:role/${tail}`]] });
      expect(getRole?.Resource).toEqual([arn('Deployer'), arn('*/Deployer')]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a shipped file that is not a valid mappings document fails synth, naming the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'policy-file-'));
    try {
      writeFileSync(join(dir, 'm.yaml'), 'roles:\n- {rolearn: "arn:aws:iam::111122223333:rol/Broken", username: d}\n');
      const config = { cluster: { name: 'c' }, scanners: [{ type: 'file', file: { path: 'm.yaml' } }] };
      expect(() => build({ config, configDir: dir })).toThrow(/m\.yaml.*roles\[0\]\.rolearn/s);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the function's own access entry never carries the ownership tag, even when the whole stack is tagged with it", () => {
    const { template } = build((stack) => {
      Tags.of(stack).add('eks-auth-sync.io/managed', 'true');
      Tags.of(stack).add('team', 'platform');
      return { createAccessEntry: true };
    });
    const entry = Object.values(template().findResources('AWS::EKS::AccessEntry'))[0] as { Properties: { Tags?: { Key: string; Value: string }[] } };
    expect(entry.Properties.Tags).toEqual([{ Key: 'team', Value: 'platform' }]);
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

describe('staging the config for the code asset', () => {
  const config = { cluster: { name: 'c' }, scanners: [{ type: 'static', static: {} }] };
  const made: string[] = [];
  const scratch = (prefix: string): string => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    made.push(dir);
    return dir;
  };
  /** The temp directory the construct sees, as another user of the build host shares it. */
  const sharedTmp = (): string => {
    const dir = scratch('shared-tmp-');
    vi.stubEnv('TMPDIR', dir);
    return dir;
  };
  // The name the construct once staged under: the config's hash, which anyone on the host can work out.
  const predictableName = `eks-auth-sync-asset-${createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 16)}`;

  afterEach(() => {
    vi.unstubAllEnvs();
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  test('a symlink another user planted at a predictable path is not followed', () => {
    const theirs = scratch('theirs-');
    symlinkSync(theirs, join(sharedTmp(), predictableName));
    build({ config });
    expect(readdirSync(theirs)).toEqual([]);
  });

  test('a directory another user created beforehand at a predictable path is not used', () => {
    const theirs = join(sharedTmp(), predictableName);
    mkdirSync(theirs);
    build({ config });
    expect(readdirSync(theirs)).toEqual([]);
  });

  test('no copy of the config is left in the temp directory after synth', () => {
    const tmp = sharedTmp();
    build({ config });
    expect(readdirSync(tmp).filter((name) => name.startsWith('eks-auth-sync'))).toEqual([]);
  });
});
