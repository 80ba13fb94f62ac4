/**
 * `npm run demo` as a user runs it: the script in its own process, judged by what it prints and
 * how it exits.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');

function runDemo(): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], { cwd: root, timeout: 150_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

describe('npm run demo', () => {
  it('shows the planned change, one write on schedule, none on the rerun, and the final aws-auth, then exits 0', async () => {
    const { code, stdout, stderr } = await runDemo();

    expect(stderr).not.toContain('DEMO FAILED');
    expect(code).toBe(0);
    const [, dryRun = '', commit = '', rerun = '', final = ''] = stdout.split(/\n== /);
    expect(dryRun).toMatch(/^1\. Manual dry run/);
    expect(dryRun).toContain('+ role arn:aws:iam::111122223333:role/breakglass');
    expect(dryRun).toContain('(from ssm-param)');
    expect(dryRun).toContain('+ user arn:aws:iam::111122223333:user/engineering/bob');
    expect(dryRun).toMatch(/warning {2}iam-tags arn:aws:iam::111122223333:role\/intern-wants-admin: .*system:masters/);
    expect(dryRun).toContain('(from iam-groups: oncall)');
    expect(dryRun).toContain('+ role arn:aws:iam::111122223333:role/AWSReservedSSO_ReadOnlyAccess_1f2e3d4c5b6a7988');
    expect(dryRun).toContain('(from identity-center: ReadOnlyAccess)');
    expect(dryRun).toContain('aws-auth writes: 0 -> 0');
    expect(commit).toMatch(/^2\. Scheduled run/);
    expect(commit).toContain('aws-auth writes: 0 -> 1');
    expect(rerun).toContain('No change; committed: false');
    expect(rerun).toContain('aws-auth writes: 1 -> 1');
    expect(final).toMatch(/^Final aws-auth/);
    expect(final).toContain('role/hand-added-admin');
    expect(final).toContain('role/eks-managed-nodegroup-NodeInstanceRole');
    expect(final).toContain('user/alice');
    expect(final).not.toContain('intern-wants-admin');
    expect(stdout.trimEnd().endsWith('Demo complete; the stand-ins are stopped.')).toBe(true);
  }, 180_000);
});
