/**
 * The EksAuthSync construct with a `clusters:` config: one function for the fleet, its alarms on
 * the fleet-wide metrics (no cluster dimension, as lambda/handler-fleet.ts publishes them), every
 * cluster's files shipped, and cdk-nag still clean.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import { parseYamlText } from '../../lambda/config.js';
import { buildWithoutBundling } from '../support/cdk.js';

const FLEET = `clusters:
- {name: prod}
- {name: staging, region: us-east-1}
scanners: [{type: iam, iam: {}}]
`;
const build = (yaml: string, extra: Record<string, unknown> = {}, configDir = '.') =>
  buildWithoutBundling({ config: parseYamlText(yaml, 'fleet.yaml'), configDir, ...extra }, { nag: true });

describe('EksAuthSync with a clusters: config', () => {
  test('its three alarms watch the fleet-wide metrics, which carry only the service dimension', () => {
    const template = build(FLEET).template();
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => (a as { Properties: Record<string, unknown> }).Properties);
    expect(alarms.map((a) => a['MetricName']).sort()).toEqual(['GuardRefusals', 'InvalidConfig', 'ScheduledRunSucceeded']);
    for (const alarm of alarms) expect(alarm['Dimensions']).toEqual([{ Name: 'service', Value: 'eks-auth-sync' }]);
    expect(String(alarms.find((a) => a['MetricName'] === 'ScheduledRunSucceeded')?.['AlarmDescription'])).toContain('prod, staging');
  });

  test("the role may describe every cluster, in its own region (by default the stack's), and cdk-nag finds nothing unacknowledged", () => {
    const { app, stack, template } = build(FLEET);
    const policy = JSON.stringify(template().findResources('AWS::IAM::Policy'));
    expect(policy).toMatch(/cluster\/prod/);
    expect(policy).toMatch(/:eks:us-east-1:.*cluster\/staging/);
    app.synth();
    Annotations.fromStack(stack).hasNoError('*', Match.stringLikeRegexp('AwsSolutions-.*'));
  });

  test("a file named in a cluster's own scanners ships with the function (a missing one fails synth naming its path)", () => {
    const dir = mkdtempSync(join(tmpdir(), 'eas-fleet-stack-'));
    writeFileSync(join(dir, 'prod.yaml'), 'roles: []\n');
    const yaml = `clusters:
- {name: prod, scanners: [{type: file, file: {path: prod.yaml}}]}
- {name: staging, scanners: [{type: file, file: {path: staging.yaml}}]}
`;
    expect(() => build(yaml, {}, dir)).toThrow(/clusters\[1\]\.scanners\[0\]\.file\.path: the file .*staging\.yaml does not exist/);
    writeFileSync(join(dir, 'staging.yaml'), 'roles: []\n');
    const { construct } = build(yaml, {}, dir);
    expect(construct.config).toMatchObject({ clusters: [{ scanners: [{ file: { path: 'files/c0-0-prod.yaml' } }] }, { scanners: [{ file: { path: 'files/c1-0-staging.yaml' } }] }] });
  });

  test('createAccessEntry, which makes one cluster\'s entry, is refused with clusters:', () => {
    expect(() => build(FLEET, { createAccessEntry: true })).toThrow(/createAccessEntry makes the entry of one cluster/);
  });
});
