/**
 * The EksAuthSync construct in a stack, without bundling the handler (the bundle has its own
 * tests): for tests about the resources and the policy.
 */
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { EksAuthSync, type EksAuthSyncProps } from '../../infra/eks-auth-sync.js';

/**
 * Builds stack `Test` holding the construct `Sync` with `props` (or the props `props(stack)`
 * returns, for props that need constructs of their own). With `nag`, cdk-nag's AwsSolutions
 * checks run at `app.synth()`.
 */
export function buildWithoutBundling(
  props: EksAuthSyncProps | ((stack: Stack) => EksAuthSyncProps),
  options: { nag?: boolean } = {},
) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Test');
  const construct = new EksAuthSync(stack, 'Sync', typeof props === 'function' ? props(stack) : props);
  if (options.nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack, construct, template: () => Template.fromStack(stack) };
}
