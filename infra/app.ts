/**
 * `npx cdk deploy -c config=my-cluster.yaml [-c stackName=EksAuthSync-prod]`: one EksAuthSync
 * stack per config file. The stack is environment-agnostic (no account lookups), so `cdk synth`
 * works offline; cdk-nag's AwsSolutions checks run on every synth and fail it on a finding.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { parseYamlText } from '../lambda/config.js';
import { EksAuthSync } from './eks-auth-sync.js';

const app = new App();
const configFile: unknown = app.node.tryGetContext('config');
if (typeof configFile !== 'string') throw new Error('Give the config file: npx cdk synth -c config=FILE.yaml');
const path = resolve(configFile);
const config = parseYamlText(readFileSync(path, 'utf8'), path);
const stackName: unknown = app.node.tryGetContext('stackName');
const stack = new Stack(app, typeof stackName === 'string' ? stackName : 'EksAuthSync');
new EksAuthSync(stack, 'EksAuthSync', { config, configDir: dirname(path) });
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
