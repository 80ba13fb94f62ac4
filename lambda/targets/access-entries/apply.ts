/**
 * Applying an access-entries plan: its steps, in their order, one EKS call each. Nothing is
 * decided here; the plan did that. An empty plan makes no call.
 *
 * Every step is idempotent: a delete or disassociation that finds nothing is done, and a create's
 * retry carries the SDK's clientRequestToken. A run that fails part-way has applied a prefix of
 * the steps (grants first), and the next run, planning from what it reads, repairs the rest.
 */
import {
  AssociateAccessPolicyCommand, CreateAccessEntryCommand, DeleteAccessEntryCommand, DisassociateAccessPolicyCommand,
  InvalidParameterException, ResourceNotFoundException, UpdateAccessEntryCommand, type EKSClient,
} from '@aws-sdk/client-eks';
import { DeadlineError, EksAuthSyncError } from '../../errors.js';
import type { Warning } from '../../mappings.js';
import { OWNED_TAG, type AccessEntriesPlan, type Step } from './plan.js';

export interface ApplyOptions {
  clusterName: string;
  /**
   * How often, and how long apart, a step on a just-created entry is retried when EKS answers
   * NotFound: a new entry "may take several seconds to be effective".
   * @default { attempts: 5, delayMs: 1000 }
   */
  notFoundRetry?: { attempts: number; delayMs: number };
  /** Waits `ms`; injectable so tests need not wait. @default setTimeout */
  sleep?: (ms: number) => Promise<void>;
  /**
   * No step (nor a NotFound retry) starts after this moment, so Lambda never kills the apply
   * inside a call; the steps done stay applied, and the next run does the rest.
   */
  deadline?: Date;
  /** @default () => new Date() */
  clock?: () => Date;
  /**
   * Where a principal that EKS refuses on create is reported (see `applyAccessEntriesPlan`).
   * @default - such a refusal is not collected, only skipped
   */
  warnings?: Warning[];
}

/**
 * Runs the plan's steps in order and returns how many ran.
 *
 * A create that EKS refuses because of the principal itself ("The specified principalArn is
 * invalid": the IAM role or user does not exist, e.g. someone who left but is still in an SSM
 * document) costs only that principal: its create and the steps after it for the same principal
 * are skipped, reported in `options.warnings`, and the rest of the plan is applied. Otherwise one
 * stale source entry would fail every run before its revocations, which come last.
 * @example await applyAccessEntriesPlan(clients.eks(), plan, { clusterName: 'prod' });
 * @throws EksAuthSyncError naming the step, the principal and how many steps were applied before it;
 *   DeadlineError when the deadline passed before a step.
 */
export async function applyAccessEntriesPlan(eks: EKSClient, plan: Pick<AccessEntriesPlan, 'steps'>, options: ApplyOptions): Promise<number> {
  const retry = options.notFoundRetry ?? { attempts: 5, delayMs: 1000 };
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const created = new Set<string>();
  const refused = new Set<string>();
  let done = 0;
  for (const step of plan.steps) {
    const key = step.principalArn.toLowerCase();
    if (refused.has(key)) continue;
    try {
      for (let attempt = 1; ; attempt++) {
        if (options.deadline && (options.clock ?? (() => new Date()))() >= options.deadline) {
          throw new DeadlineError(
            `access entries of cluster ${options.clusterName}: stopped before ${describe(step)}, as the run's deadline (${options.deadline.toISOString()}) has passed; ` +
              `${done} of ${plan.steps.length} steps were applied (grants first), and the next run does the rest. Raise the function's timeout if this repeats.`,
          );
        }
        try {
          await run(eks, options.clusterName, step);
          break;
        } catch (err) {
          const justCreated = created.has(key) && step.action !== 'create';
          if (!(err instanceof ResourceNotFoundException) || !justCreated || attempt >= retry.attempts) throw err;
          await sleep(retry.delayMs);
        }
      }
    } catch (err) {
      if (err instanceof DeadlineError) throw err;
      if (step.action === 'create' && isRefusedPrincipal(err)) {
        refused.add(key);
        options.warnings?.push({
          source: 'access-entries',
          subject: step.principalArn,
          message: `EKS refused this principal (${(err as Error).message}): the IAM ${step.principalArn.includes(':user/') ? 'user' : 'role'} does not exist, or cannot have an access entry; ` +
            `no entry was created for it (from ${step.source}), and the rest of the plan was applied`,
        });
        continue;
      }
      const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      throw new EksAuthSyncError(
        `access entries of cluster ${options.clusterName}: ${describe(step)} failed (${detail}) after ${done} of ${plan.steps.length} steps; ` +
          'the steps before it stay applied, and the next run plans again from what it reads.',
        { cause: err },
      );
    }
    if (step.action === 'create') created.add(key);
    done++;
  }
  return done;
}

async function run(eks: EKSClient, clusterName: string, step: Step): Promise<void> {
  const { principalArn } = step;
  switch (step.action) {
    case 'create': {
      const node = step.type !== 'STANDARD';
      await eks.send(new CreateAccessEntryCommand({
        clusterName, principalArn, type: step.type, tags: { [OWNED_TAG.key]: OWNED_TAG.value },
        // EKS refuses groups on node entries, and sets their username itself.
        ...(node ? {} : { kubernetesGroups: step.kubernetesGroups }),
        ...(step.username === undefined || node ? {} : { username: step.username }),
      }));
      return;
    }
    case 'update':
      await eks.send(new UpdateAccessEntryCommand({ clusterName, principalArn, username: step.username, kubernetesGroups: step.kubernetesGroups }));
      return;
    case 'associate':
      await eks.send(new AssociateAccessPolicyCommand({
        clusterName, principalArn, policyArn: step.policyArn,
        accessScope: step.scope.type === 'cluster' ? { type: 'cluster' } : { type: 'namespace', namespaces: step.scope.namespaces },
      }));
      return;
    case 'disassociate':
      await gone(() => eks.send(new DisassociateAccessPolicyCommand({ clusterName, principalArn, policyArn: step.policyArn })));
      return;
    case 'delete':
      await gone(() => eks.send(new DeleteAccessEntryCommand({ clusterName, principalArn })));
  }
}

/** EKS's answer to a create for a principal that does not exist or may not have an entry. */
function isRefusedPrincipal(err: unknown): boolean {
  return err instanceof InvalidParameterException && /principalArn is invalid|invalid principal/i.test(err.message);
}

/** A removal that finds nothing to remove has reached its goal. */
async function gone(remove: () => Promise<unknown>): Promise<void> {
  try {
    await remove();
  } catch (err) {
    if (!(err instanceof ResourceNotFoundException)) throw err;
  }
}

function describe(step: Step): string {
  const policy = 'policyArn' in step ? ` ${step.policyArn}` : '';
  return `${step.action} ${step.principalArn}${policy}`;
}
