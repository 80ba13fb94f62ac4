/**
 * `npx cdk deploy -c config=my-cluster.yaml [-c stackName=EksAuthSync-prod]`: one EksAuthSync
 * stack per config file, set up by the file's optional `deployment` section (infra/settings.ts).
 * The stack is environment-agnostic (no account lookups), so `cdk synth` works offline;
 * cdk-nag's AwsSolutions checks run on every synth and fail it on a finding.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { parseYamlText } from '../lambda/config.js';
import { EksAuthSync } from './eks-auth-sync.js';
import { IamEventForwarder } from './events.js';
import { settingsFromConfig } from './settings.js';

const app = new App();
const configFile: unknown = app.node.tryGetContext('config');
if (typeof configFile !== 'string') throw new Error('Give the config file: npx cdk synth -c config=FILE.yaml');
const path = resolve(configFile);
const { stackName, props, iamEventForwarder, importedResources } = settingsFromConfig(parseYamlText(readFileSync(path, 'utf8'), path), path);
const stackNameOverride: unknown = app.node.tryGetContext('stackName');
const mainStackName = typeof stackNameOverride === 'string' ? stackNameOverride : stackName ?? 'EksAuthSync';
const stack = new Stack(app, mainStackName);
new EksAuthSync(stack, 'EksAuthSync', { ...props, ...importedResources?.(stack) });
// Event-driven sync: IAM's events arrive only in us-east-1; this companion stack forwards them.
if (iamEventForwarder) new IamEventForwarder(app, `${mainStackName}-IamEvents`, iamEventForwarder);
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
