/**
 * Event-driven sync's infrastructure on synthesized templates: the rules' patterns and targets in
 * the function's stack, the us-east-1 forwarder's rule, target and role, cdk-nag on both, and the
 * deployment settings that choose them.
 */
import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, test } from 'vitest';
import { IamEventForwarder } from '../../infra/events.js';
import { settingsFromConfig } from '../../infra/settings.js';
import { parseYamlText } from '../../lambda/config.js';
import { ConfigError } from '../../lambda/errors.js';
import { buildWithoutBundling } from '../support/cdk.js';

const CONFIG = parseYamlText(`
cluster: {name: prod, region: eu-west-1}
scanners:
  - {type: ssm, ssm: {path: /eks/prod/auth}}
  - {type: ssm, ssm: {path: /eks/shared/admins}}
  - {type: iam, iam: {}}
`, 'test.yaml');

const IAM_EVENT_NAMES = ['TagRole', 'UntagRole', 'TagUser', 'UntagUser', 'CreateRole', 'CreateUser', 'DeleteRole', 'DeleteUser', 'AddUserToGroup', 'RemoveUserFromGroup'];
const IAM_PATTERN = {
  source: ['aws.iam'],
  'detail-type': ['AWS API Call via CloudTrail'],
  detail: { eventSource: ['iam.amazonaws.com'], eventName: IAM_EVENT_NAMES },
};

function eventRules(template: Template): Record<string, unknown>[] {
  return Object.values(template.findResources('AWS::Events::Rule'))
    .map((r) => (r as { Properties: Record<string, unknown> }).Properties)
    .filter((p) => p['EventPattern'] !== undefined);
}

describe('the change-event rules in the function\'s stack', { timeout: 60_000 }, () => {
  test('without events, only the schedule invokes the function', () => {
    expect(eventRules(buildWithoutBundling({ config: CONFIG }).template())).toEqual([]);
  });

  test('each selected event kind gets one rule, with the exact pattern, invoking the function without retries', () => {
    const { template, stack, construct } = buildWithoutBundling({ config: CONFIG, events: { ssm: true, iam: true, identityCenter: true } });
    const functionArn = stack.resolve(construct.function.functionArn) as unknown;
    const rules = eventRules(template());
    expect(rules.map((r) => r['EventPattern'])).toEqual([
      {
        source: ['aws.ssm'],
        'detail-type': ['Parameter Store Change'],
        detail: { name: ['/eks/prod/auth', '/eks/shared/admins'], operation: ['Create', 'Update', 'Delete'] },
      },
      IAM_PATTERN,
      {
        source: ['aws.sso'],
        'detail-type': ['AWS API Call via CloudTrail'],
        detail: { eventSource: ['sso.amazonaws.com'], eventName: ['CreateAccountAssignment', 'DeleteAccountAssignment'] },
      },
    ]);
    for (const rule of rules) {
      expect(rule['EventBusName']).toBeUndefined();
      expect(rule['Targets']).toEqual([expect.objectContaining({ Arn: functionArn, RetryPolicy: { MaximumRetryAttempts: 0 } })]);
    }
    template().resourcePropertiesCountIs('AWS::Lambda::Permission', { Principal: 'events.amazonaws.com', Action: 'lambda:InvokeFunction' }, 4);
    template().hasResourceProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: 1 });
  });

  test('only the selected kinds get a rule', () => {
    const rules = eventRules(buildWithoutBundling({ config: CONFIG, events: { ssm: true } }).template());
    expect(rules.map((r) => (r['EventPattern'] as { source: string[] }).source)).toEqual([['aws.ssm']]);
  });

  test('watching parameters without an ssm scanner fails synth, naming the setting', () => {
    const config = parseYamlText('cluster: {name: prod}\nscanners: [{type: iam, iam: {}}]', 'test.yaml');
    expect(() => buildWithoutBundling({ config, events: { ssm: true } })).toThrow(ConfigError);
    expect(() => buildWithoutBundling({ config, events: { ssm: true } })).toThrow(/deployment\.events\.ssm: no ssm scanner/);
  });

  test('cdk-nag stays clean with every event rule', () => {
    const { app } = buildWithoutBundling({ config: CONFIG, events: { ssm: true, iam: true, identityCenter: true } }, { nag: true });
    expect(() => app.synth()).not.toThrow();
  });
});

describe('the us-east-1 forwarder', () => {
  function forwarder(targetRegion = 'eu-west-1') {
    const app = new App();
    const stack = new IamEventForwarder(app, 'Forwarder', { targetRegion });
    return { app, stack, template: Template.fromStack(stack) };
  }

  test('lives in us-east-1 and forwards exactly the IAM events the function acts on to the function region\'s default bus', () => {
    const { stack, template } = forwarder();
    expect(stack.region).toBe('us-east-1');
    template.resourceCountIs('AWS::Events::Rule', 1);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: IAM_PATTERN,
      Targets: [{
        Arn: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':events:eu-west-1:', { Ref: 'AWS::AccountId' }, ':event-bus/default']] },
        Id: Match.anyValue(),
        RoleArn: Match.anyValue(),
      }],
    });
  });

  test('its role may only put events on that one bus, and only EventBridge may assume it', () => {
    const { template } = forwarder();
    template.resourceCountIs('AWS::IAM::Role', 1);
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' } }] },
    });
    const policies = Object.values(template.findResources('AWS::IAM::Policy'));
    expect(policies).toHaveLength(1);
    expect((policies[0] as { Properties: { PolicyDocument: unknown } }).Properties.PolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [{
        Action: 'events:PutEvents',
        Effect: 'Allow',
        Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':events:eu-west-1:', { Ref: 'AWS::AccountId' }, ':event-bus/default']] },
      }],
    });
  });

  test('cdk-nag finds nothing in it', () => {
    const { app } = forwarder();
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
  });

  test('is refused for a function in us-east-1, which receives IAM\'s events itself', () => {
    expect(() => forwarder('us-east-1')).toThrow(/already runs in us-east-1/);
  });
});

describe('deployment.events', () => {
  const settings = (deployment: string, cluster = '{name: prod, region: eu-west-1}') =>
    settingsFromConfig(parseYamlText(`cluster: ${cluster}\nscanners: [{type: ssm, ssm: {path: /p}}]\ndeployment: ${deployment}`, '/x/c.yaml'), '/x/c.yaml');

  test('selects the rules, and IAM events are forwarded to the cluster\'s region by default', () => {
    const { props, iamEventForwarder } = settings('{events: {ssm: true, iam: true}}');
    expect(props.events).toEqual({ ssm: true, iam: true, identityCenter: false });
    expect(iamEventForwarder).toEqual({ targetRegion: 'eu-west-1' });
  });

  test('events.region names the function\'s region when the cluster\'s is not given', () => {
    expect(settings('{events: {iam: true, region: ap-south-1}}', '{name: prod}').iamEventForwarder).toEqual({ targetRegion: 'ap-south-1' });
  });

  test('no forwarder without IAM events, or for a function in us-east-1', () => {
    expect(settings('{events: {ssm: true}}').iamEventForwarder).toBeUndefined();
    expect(settings('{events: {iam: true, region: us-east-1}}').iamEventForwarder).toBeUndefined();
  });

  test('IAM events without a known region fail, naming the setting', () => {
    expect(() => settings('{events: {iam: true}}', '{name: prod}')).toThrow(/\/x\/c\.yaml: deployment\.events\.region: required with deployment\.events\.iam/);
  });

  test('a clusters: config deploys from the same file: IAM events go to the region its clusters share, and need events.region when they share none', () => {
    const fleet = (clusters: string, deployment: string) =>
      settingsFromConfig(parseYamlText(`clusters: ${clusters}\nscanners: [{type: ssm, ssm: {path: /p}}]\ndeployment: ${deployment}`, '/x/c.yaml'), '/x/c.yaml');
    expect(fleet('[{name: a, region: eu-west-1}, {name: b, region: eu-west-1}]', '{events: {iam: true}}').iamEventForwarder).toEqual({ targetRegion: 'eu-west-1' });
    expect(() => fleet('[{name: a, region: eu-west-1}, {name: b, region: eu-north-1}]', '{events: {iam: true}}'))
      .toThrow(/deployment\.events\.region: required with deployment\.events\.iam \(or set the same region on every cluster\)/);
    expect(fleet('[{name: a, region: eu-west-1}, {name: b, region: eu-north-1}]', '{events: {iam: true, region: eu-north-1}}').iamEventForwarder).toEqual({ targetRegion: 'eu-north-1' });
  });

  test('a misspelt key or a bad region is refused with its path', () => {
    expect(() => settings('{events: {iam: true, regoin: eu-west-1}}')).toThrow(/deployment\.events\.regoin: unknown key; did you mean region\?/);
    expect(() => settings('{events: {iam: true, region: Ireland}}')).toThrow(/deployment\.events\.region: expected an AWS region such as eu-west-1/);
  });
});
