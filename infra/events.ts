/**
 * Event-driven sync's infrastructure: EventBridge rules that invoke the function on the change
 * events lambda/events.ts acts on, and the companion stack that forwards IAM's CloudTrail events
 * from us-east-1 (the only region they arrive in) to the function's region. The schedule stays
 * as the backstop for anything an event misses (EventBridge delivers on a best-effort basis).
 */
import { Aws, Stack, type StackProps } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { Config } from '../lambda/config.js';
import { ConfigError } from '../lambda/errors.js';
import {
  CLOUDTRAIL_DETAIL_TYPE, IAM_EVENT_NAMES, IDENTITY_CENTER_EVENT_NAMES, PARAMETER_OPERATIONS, PARAMETER_STORE_DETAIL_TYPE,
} from '../lambda/events.js';

/** IAM's events reach EventBridge only here. */
export const IAM_EVENTS_REGION = 'us-east-1';

/** Which change events invoke the function (each off unless set). */
export interface ChangeEventTriggers {
  /**
   * Parameter Store Change events for exactly the ssm scanners' parameter names, in the function's
   * region and account (a parameter elsewhere is picked up by the schedule).
   * @default false
   */
  readonly ssm?: boolean;
  /**
   * IAM's CloudTrail events (tags, identities created or deleted, group membership) on the
   * function region's default bus. Outside us-east-1 they arrive only through an
   * {@link IamEventForwarder}. Needs a CloudTrail trail logging management write events.
   * @default false
   */
  readonly iam?: boolean;
  /**
   * Identity Center's CreateAccountAssignment and DeleteAccountAssignment, which arrive in the
   * Identity Center instance's home region and account: useful when the function runs there.
   * @default false
   */
  readonly identityCenter?: boolean;
}

/** The pattern of IAM's CloudTrail events a run may act on: the same list the handler classifies. */
export function iamEventPattern(): events.EventPattern {
  return {
    source: ['aws.iam'],
    detailType: [CLOUDTRAIL_DETAIL_TYPE],
    detail: { eventSource: ['iam.amazonaws.com'], eventName: [...IAM_EVENT_NAMES] },
  };
}

/**
 * The rules that invoke `fn` on the change events `triggers` selects; none when it selects none.
 * @throws ConfigError when `ssm` is set but no ssm scanner names a parameter.
 */
export class ChangeEventRules extends Construct {
  readonly rules: events.Rule[] = [];

  /** `configs`: the config of each cluster the function syncs (one, or a fleet's). */
  constructor(scope: Construct, id: string, fn: lambda.IFunction, configs: readonly Config[], triggers: ChangeEventTriggers) {
    super(scope, id);
    const cluster = configs.map((c) => c.cluster.name).join(', ');
    // As for the schedule: no retry of a failed invoke; the next event or the schedule repairs it.
    const target = new targets.LambdaFunction(fn, { retryAttempts: 0 });
    const rule = (ruleId: string, description: string, eventPattern: events.EventPattern): void => {
      this.rules.push(new events.Rule(this, ruleId, { description: `eks-auth-sync (${cluster}): ${description}`, eventPattern, targets: [target] }));
    };
    if (triggers.ssm) {
      const names = [...new Set(configs.flatMap((c) => c.scanners.flatMap((s) => (s.type === 'ssm' ? [s.ssm.path] : []))))];
      if (names.length === 0) throw new ConfigError('deployment.events.ssm: no ssm scanner names a parameter to watch');
      rule('ParameterChanges', 'sync when a source parameter changes', {
        source: ['aws.ssm'],
        detailType: [PARAMETER_STORE_DETAIL_TYPE],
        detail: { name: names, operation: [...PARAMETER_OPERATIONS] },
      });
    }
    if (triggers.iam) rule('IamChanges', 'sync when IAM tags, identities or group membership change', iamEventPattern());
    if (triggers.identityCenter) {
      rule('IdentityCenterAssignments', 'sync when an Identity Center account assignment changes', {
        source: ['aws.sso'],
        detailType: [CLOUDTRAIL_DETAIL_TYPE],
        detail: { eventSource: ['sso.amazonaws.com'], eventName: [...IDENTITY_CENTER_EVENT_NAMES] },
      });
    }
  }
}

/** Properties of {@link IamEventForwarder}. */
export interface IamEventForwarderProps extends StackProps {
  /** The function's region: IAM's events go to the default event bus there, in the same account. */
  readonly targetRegion: string;
}

/**
 * A stack in us-east-1 that forwards IAM's CloudTrail events to the default bus of the function's
 * region, in the same account. EventBridge's role for the target may only put events on that
 * one bus; a same-account bus needs no resource policy.
 */
export class IamEventForwarder extends Stack {
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: IamEventForwarderProps) {
    super(scope, id, { ...props, env: { ...props.env, region: IAM_EVENTS_REGION } });
    if (props.targetRegion === IAM_EVENTS_REGION) {
      throw new ConfigError(`IamEventForwarder: the function already runs in ${IAM_EVENTS_REGION}, where IAM's events arrive; no forwarder is needed`);
    }
    const bus = events.EventBus.fromEventBusArn(this, 'FunctionRegionBus', `arn:${Aws.PARTITION}:events:${props.targetRegion}:${Aws.ACCOUNT_ID}:event-bus/default`);
    this.rule = new events.Rule(this, 'ForwardIamChanges', {
      description: `eks-auth-sync: forward IAM changes to ${props.targetRegion}`,
      eventPattern: iamEventPattern(),
      targets: [new targets.EventBus(bus)],
    });
  }
}
