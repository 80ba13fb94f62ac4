import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const TSX = join(ROOT, 'node_modules/.bin/tsx');

const CONFIG = `
cluster: {name: prod-cluster}
scanners:
  - {type: file, file: {path: team.yaml}}
deployment:
  schedule: cron(0/30 * * * ? *)
  dryRunOnly: true
  memorySize: 512
  timeoutSeconds: 300
  logRetentionDays: 90
  alarmTopicArn: arn:aws:sns:eu-west-1:111122223333:oncall
  createAccessEntry: true
  kubernetesGroup: aws-auth-editors
  kubernetesUsername: aws-auth-sync
  stackName: EksAuthSync-from-file
`;

/**
 * Runs infra/app.ts as `cdk synth` runs it: the CLI passes `-c` values in CDK_CONTEXT_JSON and
 * the output directory in CDK_OUTDIR, and the app synthesizes on exit. Bundling is skipped (as
 * for a stack not being deployed); the bundle has its own tests.
 */
async function synth(context: Record<string, unknown>): Promise<{ outdir: string; templates: string[] }> {
  const outdir = mkdtempSync(join(tmpdir(), 'eas-cdk-out-'));
  await promisify(execFile)(TSX, ['infra/app.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      CDK_OUTDIR: outdir,
      CDK_CONTEXT_JSON: JSON.stringify({ ...context, 'aws:cdk:bundling-stacks': [] }),
    },
  });
  return { outdir, templates: readdirSync(outdir).filter((f) => f.endsWith('.template.json')) };
}

function configFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'eas-app-config-'));
  writeFileSync(join(dir, 'team.yaml'), 'roles: [{rolearn: "arn:aws:iam::111122223333:role/dev", username: dev}]\n');
  writeFileSync(join(dir, 'cluster.yaml'), text);
  return join(dir, 'cluster.yaml');
}

// Each synth runs the app in a fresh tsx process (about 20 s on 2 idle cores), so these tests get more than the default 30 s.
describe('the CDK app (infra/app.ts)', { timeout: 120_000 }, () => {
  test('-c config=FILE deploys the stack the file\'s deployment section describes', async () => {
    const { outdir, templates } = await synth({ config: configFile(CONFIG) });
    expect(templates).toEqual(['EksAuthSync-from-file.template.json']);
    const template = Template.fromJSON(JSON.parse(readFileSync(join(outdir, 'EksAuthSync-from-file.template.json'), 'utf8')));
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'cron(0/30 * * * ? *)' });
    template.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 512,
      Timeout: 300,
      Environment: { Variables: Match.objectLike({ DRY_RUN_ONLY: 'true' }) },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmActions: ['arn:aws:sns:eu-west-1:111122223333:oncall'] });
    template.hasResourceProperties('AWS::EKS::AccessEntry', {
      ClusterName: 'prod-cluster',
      Username: 'aws-auth-sync',
      KubernetesGroups: ['aws-auth-editors'],
    });
  });

  test('-c stackName=NAME overrides deployment.stackName', async () => {
    const { templates } = await synth({ config: configFile(CONFIG), stackName: 'Override' });
    expect(templates).toEqual(['Override.template.json']);
  });

  // Event-driven sync: the us-east-1 forwarder is a second stack of the same app.
  test('deployment.events.iam adds the us-east-1 stack that forwards IAM\'s events to the function\'s region', async () => {
    const file = configFile(CONFIG.replace('cluster: {name: prod-cluster}', 'cluster: {name: prod-cluster, region: eu-west-1}') + '  events: {iam: true}\n');
    const { outdir, templates } = await synth({ config: file });
    expect(templates.sort()).toEqual(['EksAuthSync-from-file-IamEvents.template.json', 'EksAuthSync-from-file.template.json']);
    const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8')) as { artifacts: Record<string, { environment?: string }> };
    expect(manifest.artifacts['EksAuthSync-from-file-IamEvents']?.environment).toBe('aws://unknown-account/us-east-1');
    const forwarder = Template.fromJSON(JSON.parse(readFileSync(join(outdir, 'EksAuthSync-from-file-IamEvents.template.json'), 'utf8')));
    forwarder.hasResourceProperties('AWS::Events::Rule', { EventPattern: Match.objectLike({ source: ['aws.iam'] }) });
  });

  test('a bad deployment value fails the synth with the file and the field path', async () => {
    const file = configFile(CONFIG.replace('timeoutSeconds: 300', 'timeoutSeconds: 1200'));
    await expect(synth({ config: file })).rejects.toThrow(`${file}: deployment.timeoutSeconds: must be at most 900`);
  });
});
