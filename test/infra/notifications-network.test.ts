/**
 * The stack's change notifications (where the function publishes, the permission to publish
 * there only, the alarm) and private endpoints (VPC config, the HTTPS-only security group, the
 * ENI permissions), from the construct's props and from the config's `deployment` section.
 */
import { Fn, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as sns from 'aws-cdk-lib/aws-sns';
import { describe, expect, test } from 'vitest';
import type { EksAuthSyncProps } from '../../infra/eks-auth-sync.js';
import { settingsFromConfig } from '../../infra/settings.js';
import { parseYamlText } from '../../lambda/config.js';
import { ConfigError } from '../../lambda/errors.js';
import { buildWithoutBundling } from '../support/cdk.js';

const config = { cluster: { name: 'prod' }, scanners: [{ type: 'static', static: {} }] };
const TOPIC_ARN = 'arn:aws:sns:eu-west-1:111122223333:access-changes';
const KEY_ARN = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const BUS_ARN = 'arn:aws:events:eu-west-1:111122223333:event-bus/platform';

/** Every IAM statement of the stack, with its policy's logical ID. */
function statements(template: Template): { policy: string; Action: string | string[]; Resource: unknown; Sid?: string }[] {
  return Object.entries(template.findResources('AWS::IAM::Policy')).flatMap(([policy, r]) =>
    ((r as { Properties: { PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown; Sid?: string }[] } } }).Properties.PolicyDocument.Statement).map((s) => ({ policy, ...s })));
}

const actionsOf = (template: Template): string[] => statements(template).flatMap((s) => [s.Action].flat()).sort();

function functionEnv(template: Template): Record<string, unknown> {
  const [fn] = Object.values(template.findResources('AWS::Lambda::Function'));
  return (fn as { Properties: { Environment: { Variables: Record<string, unknown> } } }).Properties.Environment.Variables;
}

// A synth loads and runs much of aws-cdk-lib: under a loaded machine the first takes 20 s or more.
const SYNTH = { timeout: 120_000 };

describe('change notifications in the stack', SYNTH, () => {
  const withTopicAndBus = (stack: Stack): EksAuthSyncProps => ({
    config,
    notificationTopic: sns.Topic.fromTopicArn(stack, 'Topic', TOPIC_ARN),
    notificationEventBus: events.EventBus.fromEventBusArn(stack, 'Bus', BUS_ARN),
  });

  test('the function is told the topic and the bus, may publish to that topic and put events on that bus only, and an alarm watches NotificationFailures', () => {
    const template = buildWithoutBundling(withTopicAndBus).template();
    expect(functionEnv(template)).toMatchObject({ NOTIFICATION_TOPIC_ARN: TOPIC_ARN, NOTIFICATION_EVENT_BUS_ARN: BUS_ARN });
    const publish = statements(template).filter((s) => [s.Action].flat().some((a) => a.startsWith('sns:') || a.startsWith('events:')));
    expect(publish.map((s) => [s.Action, s.Resource])).toEqual([['sns:Publish', TOPIC_ARN], ['events:PutEvents', BUS_ARN]]);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'NotificationFailures',
      Namespace: 'EksAuthSync',
      Dimensions: Match.arrayWith([{ Name: 'cluster', Value: 'prod' }]),
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
  });

  test('without a topic or a bus: no environment, no permission, no alarm', () => {
    const template = buildWithoutBundling({ config }).template();
    expect(Object.keys(functionEnv(template))).not.toContain('NOTIFICATION_TOPIC_ARN');
    expect(actionsOf(template).filter((a) => a.startsWith('sns:') || a.startsWith('events:'))).toEqual([]);
    expect(JSON.stringify(template.findResources('AWS::CloudWatch::Alarm'))).not.toContain('NotificationFailures');
  });

  test("an encrypted topic's key may be used to publish, that key only", () => {
    const template = buildWithoutBundling((stack) => ({ config, notificationTopic: sns.Topic.fromTopicAttributes(stack, 'Topic', { topicArn: TOPIC_ARN, keyArn: KEY_ARN }) })).template();
    const kms = statements(template).filter((s) => [s.Action].flat().some((a) => a.startsWith('kms:')));
    expect(kms.map((s) => s.Resource)).toEqual([KEY_ARN]);
  });

  test('a FIFO topic is refused at synth, naming the prop', () => {
    expect(() => buildWithoutBundling((stack) => ({ config, notificationTopic: sns.Topic.fromTopicArn(stack, 'Topic', `${TOPIC_ARN}.fifo`) })))
      .toThrow(/notificationTopic .*access-changes\.fifo is a FIFO topic/);
  });

  test('cdk-nag finds nothing with notifications', () => {
    const { app } = buildWithoutBundling(withTopicAndBus, { nag: true });
    expect(() => app.synth()).not.toThrow();
  });
});

describe('private endpoints in the stack', SYNTH, () => {
  const vpcProps = (stack: Stack, extra: Partial<EksAuthSyncProps> = {}): EksAuthSyncProps => ({
    config,
    vpc: ec2.Vpc.fromVpcAttributes(stack, 'Vpc', { vpcId: 'vpc-0123456789abcdef0', availabilityZones: Fn.getAzs() }),
    vpcSubnets: { subnets: ['subnet-0aaaaaaaaaaaaaaaa', 'subnet-0bbbbbbbbbbbbbbbb'].map((id, i) => ec2.Subnet.fromSubnetId(stack, `Subnet${i}`, id)) },
    ...extra,
  });

  test('the function runs in the given subnets with a new security group that allows only HTTPS out and nothing in', () => {
    const { template: t, construct } = buildWithoutBundling((stack) => vpcProps(stack));
    const template = t();
    const sgId = Object.keys(template.findResources('AWS::EC2::SecurityGroup'));
    expect(sgId).toHaveLength(1);
    template.hasResourceProperties('AWS::Lambda::Function', {
      VpcConfig: { SubnetIds: ['subnet-0aaaaaaaaaaaaaaaa', 'subnet-0bbbbbbbbbbbbbbbb'], SecurityGroupIds: [{ 'Fn::GetAtt': [sgId[0], 'GroupId'] }] },
    });
    const [sg] = Object.values(template.findResources('AWS::EC2::SecurityGroup')) as { Properties: Record<string, unknown> }[];
    expect(sg?.Properties['VpcId']).toBe('vpc-0123456789abcdef0');
    expect(sg?.Properties['SecurityGroupEgress']).toEqual([{ CidrIp: '0.0.0.0/0', Description: 'HTTPS to the AWS APIs and the cluster endpoint', FromPort: 443, IpProtocol: 'tcp', ToPort: 443 }]);
    expect(sg?.Properties['SecurityGroupIngress']).toBeUndefined();
    expect(template.findResources('AWS::EC2::SecurityGroupIngress')).toEqual({});
    expect(construct.securityGroup).toBeDefined();
  });

  test('the role may create network interfaces only in those subnets with that security group, and manage only network interfaces; the function waits for that policy', () => {
    const template = buildWithoutBundling((stack) => vpcProps(stack)).template();
    const eni = statements(template).filter((s) => [s.Action].flat().some((a) => a.startsWith('ec2:')));
    const sid = (name: string) => eni.find((s) => s.Sid === name);
    const arn = (resource: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ec2:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:${resource}`]] });
    expect(sid('DescribeNetworkInterfaces')).toMatchObject({ Action: ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets'], Resource: '*' });
    expect(sid('CreateNetworkInterfaces')?.Action).toBe('ec2:CreateNetworkInterface');
    expect(sid('CreateNetworkInterfaces')?.Resource).toEqual(expect.arrayContaining([arn('network-interface/*'), arn('subnet/subnet-0aaaaaaaaaaaaaaaa'), arn('subnet/subnet-0bbbbbbbbbbbbbbbb')]));
    expect(sid('CreateNetworkInterfaces')?.Resource).toHaveLength(4);
    expect(sid('ManageNetworkInterfaces')).toMatchObject({ Action: ['ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'], Resource: arn('network-interface/*') });
    const [fn] = Object.values(template.findResources('AWS::Lambda::Function')) as { DependsOn: string[] }[];
    expect(fn?.DependsOn).toContain(eni[0]?.policy);
    expect(JSON.stringify(template.toJSON())).not.toContain('AWSLambdaVPCAccessExecutionRole');
  });

  test('given security groups are used as they are, and none is created', () => {
    const template = buildWithoutBundling((stack) => vpcProps(stack, { securityGroups: [ec2.SecurityGroup.fromSecurityGroupId(stack, 'Sg', 'sg-0123456789abcdef0')] })).template();
    template.resourceCountIs('AWS::EC2::SecurityGroup', 0);
    template.hasResourceProperties('AWS::Lambda::Function', { VpcConfig: { SecurityGroupIds: ['sg-0123456789abcdef0'] } });
  });

  test('without a VPC the function has no VpcConfig and the role no EC2 permission', () => {
    const template = buildWithoutBundling({ config }).template();
    template.hasResourceProperties('AWS::Lambda::Function', { VpcConfig: Match.absent() });
    expect(actionsOf(template).filter((a) => a.startsWith('ec2:'))).toEqual([]);
  });

  test('subnets without a VPC are refused', () => {
    expect(() => buildWithoutBundling((stack) => ({ config, vpcSubnets: { subnets: [ec2.Subnet.fromSubnetId(stack, 'S', 'subnet-0aaaaaaaaaaaaaaaa')] } })))
      .toThrow(/vpcSubnets and securityGroups need a vpc/);
  });

  test('cdk-nag finds nothing in a VPC, with notifications too', () => {
    const { app } = buildWithoutBundling((stack) => vpcProps(stack, { notificationTopic: sns.Topic.fromTopicArn(stack, 'Topic', TOPIC_ARN) }), { nag: true });
    expect(() => app.synth()).not.toThrow();
  });
});

describe('the deployment section', SYNTH, () => {
  const FILE = '/deploy/prod.yaml';
  const BASE = 'cluster: {name: prod}\nscanners: [{type: static, static: {roles: []}}]\n';
  const settingsWith = (deployment: string) => settingsFromConfig(parseYamlText(`${BASE}deployment: ${deployment}\n`, FILE), FILE);

  /** The template of the app for `deployment`, built as infra/app.ts builds it. */
  function templateFor(deployment: string): Template {
    const { props, importedResources } = settingsWith(deployment);
    return buildWithoutBundling((stack) => ({ ...props, ...importedResources?.(stack) })).template();
  }

  test('notifications.topicArn and eventBus (a name: the bus of the stack\'s account and region) reach the function and its policy', () => {
    const template = templateFor(`{notifications: {topicArn: "${TOPIC_ARN}", eventBus: default}}`);
    expect(functionEnv(template)).toMatchObject({ NOTIFICATION_TOPIC_ARN: TOPIC_ARN });
    const bus = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':events:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':event-bus/default']] };
    expect(functionEnv(template)['NOTIFICATION_EVENT_BUS_ARN']).toEqual(bus);
    expect(statements(template).find((s) => s.Action === 'events:PutEvents')?.Resource).toEqual(bus);
  });

  test('notifications.eventBus as an ARN is that bus', () => {
    expect(functionEnv(templateFor(`{notifications: {eventBus: "${BUS_ARN}"}}`))['NOTIFICATION_EVENT_BUS_ARN']).toBe(BUS_ARN);
  });

  test('vpc: the VPC, subnets and security groups are imported by ID, offline, into the function\'s VpcConfig', () => {
    const template = templateFor('{vpc: {vpcId: vpc-0123456789abcdef0, subnetIds: [subnet-0aaaaaaaaaaaaaaaa], securityGroupIds: [sg-0123456789abcdef0]}}');
    template.hasResourceProperties('AWS::Lambda::Function', { VpcConfig: { SubnetIds: ['subnet-0aaaaaaaaaaaaaaaa'], SecurityGroupIds: ['sg-0123456789abcdef0'] } });
  });

  test('without those keys nothing is imported', () => {
    expect(settingsWith('{memorySize: 512}').importedResources).toBeUndefined();
  });

  test.each([
    ['{notifications: {topicArn: "arn:aws:sns:eu-west-1:111122223333:x.fifo"}}', /deployment\.notifications\.topicArn: expected a standard \(not FIFO\) SNS topic ARN/],
    ['{notifications: {eventBus: "bus with spaces"}}', /deployment\.notifications\.eventBus: expected an EventBridge bus name/],
    ['{notifications: {topic: x}}', /deployment\.notifications\.topic: unknown key/],
    ['{vpc: {vpcId: vpc-1, subnetIds: [subnet-0aaaaaaaaaaaaaaaa]}}', /deployment\.vpc\.vpcId: expected a VPC ID/],
    ['{vpc: {vpcId: vpc-0123456789abcdef0, subnetIds: []}}', /deployment\.vpc\.subnetIds: at least one subnet is required/],
    ['{vpc: {vpcId: vpc-0123456789abcdef0, subnetIds: [subnet-0aaaaaaaaaaaaaaaa], securityGroupIds: [default]}}', /deployment\.vpc\.securityGroupIds\[0\]: expected a security group ID/],
  ])('deployment %s is refused with its path', (deployment, message) => {
    expect(() => settingsWith(deployment)).toThrow(ConfigError);
    expect(() => settingsWith(deployment)).toThrow(message);
  });
});
