import { spawnSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from '../lambda/cli.js';

const EXPECTED_LOCAL = `users:
  - userarn: arn:aws:iam::111122223333:user/ops/alice
    username: alice
    groups:
      - ops
      - viewers
roles:
  - rolearn: arn:aws:iam::111122223333:role/AWSReservedSSO_Developer_0123456789abcdef
    username: dev:{{SessionName}}
    groups:
      - developers
  - rolearn: arn:aws:iam::111122223333:role/BreakGlassAdmin
    username: break-glass:{{SessionName}}
    groups:
      - system:masters
  - rolearn: arn:aws:iam::111122223333:role/ci-deployer
    username: ci-deployer
    groups:
      - deployers
  - rolearn: arn:aws:iam::111122223333:role/eks-demo-nodes
    username: system:node:{{EC2PrivateDNSName}}
    groups:
      - system:bootstrappers
      - system:nodes
`;
const STDIN_CONFIG = `cluster: {name: demo}
scanners:
- type: static
  static: {users: [{userarn: "arn:aws:iam::111122223333:user/bob", username: bob}]}
`;
const BAD_CONFIG = 'cluster: {name: demo}\nkubernetes: {}\nscanners: [{type: static, static: {}}]\n';

interface Outcome { status: number; stdout: string; stderr: string }

async function runMain(argv: string[], stdin = ''): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const status = await main(argv, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    stdin: Readable.from([stdin]),
  });
  return { status, stdout, stderr };
}

function runBundle(argv: string[], stdin = '', script = 'dist/cli.mjs'): Outcome {
  const r = spawnSync(process.execPath, [script, ...argv], {
    input: stdin,
    encoding: 'utf8',
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe.each([
  ['main()', runMain],
  ['the built bundle', async (argv: string[], stdin?: string) => runBundle(argv, stdin)],
  ['the package bin', async (argv: string[], stdin?: string) => runBundle(argv, stdin, 'bin/eks-auth-sync.mjs')],
])('eks-auth-sync through %s', (_how, run) => {
  it('prints the example config\'s desired mappings, with warnings on stderr', async () => {
    const r = await run(['sync', '--config', 'examples/local.yaml', '--offline']);
    expect(r).toEqual({
      status: 0,
      stdout: EXPECTED_LOCAL,
      stderr: 'warning: [team-mappings] arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/'
        + 'AWSReservedSSO_Developer_0123456789abcdef: role ARN has an IAM path, which the authenticator never matches; '
        + 'written as arn:aws:iam::111122223333:role/AWSReservedSSO_Developer_0123456789abcdef\n',
    });
  });

  it('reads the config from stdin with --config -', async () => {
    const r = await run(['sync', '-c', '-', '--offline'], STDIN_CONFIG);
    expect(r).toEqual({
      status: 0,
      stdout: 'users:\n  - userarn: arn:aws:iam::111122223333:user/bob\n    username: bob\n    groups: []\nroles: []\n',
      stderr: '',
    });
  });

  it('still prints the mappings when the cluster cannot be reached in a dry run, and says why on stderr', async () => {
    const r = await run(['sync', '--config', 'examples/local.yaml']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(EXPECTED_LOCAL);
    expect(r.stderr).toMatch(/^note: the cluster was not reached, so only the desired mappings are shown: .*credentials/m);
  });

  it('refuses --commit with --offline', async () => {
    const r = await run(['sync', '--config', 'examples/local.yaml', '--commit', '--offline']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--commit needs the cluster/);
  });

  it('exits 1 with one error message naming every config problem, printing nothing', async () => {
    const r = await run(['sync', '--config', '-'], BAD_CONFIG);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('error: <stdin>: kubernetes: not supported; the cluster section replaces it (cluster.name, cluster.region)\n');
  });

  it('exits 1 naming the file it cannot read', async () => {
    const r = await run(['sync', '--config', 'examples/nope.yaml']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: examples\/nope\.yaml: cannot read the config file: ENOENT/);
  });

  it.each([
    [['sync', '--config', 'x', '--commit-everything']],
    [['sync']],
    [['sync', 'extra']],
    [['deploy']],
    [['--verbose']],
    // Names of Object.prototype members are unknown commands, not a crash.
    [['constructor']],
    [['toString']],
    [['__proto__']],
  ])('exits 2 on the command line %j, pointing to --help', async (argv) => {
    const r = await run(argv);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error: .+\nRun "eks-auth-sync --help" for usage\.\n$/);
  });

  it.each([[['--help']], [['-h']], [['sync', '--help']]])('documents every command and option with %j', async (argv) => {
    const r = await run(argv);
    expect(r.status).toBe(0);
    for (const word of ['sync', '--config', '-c', '--help', 'stdin', 'AWS_ENDPOINT_URL', 'Exit status', 'warning:']) {
      expect(r.stdout).toContain(word);
    }
  });
});

it('shows the help on stderr and exits 2 without a command', async () => {
  const r = await runMain([]);
  expect(r.status).toBe(2);
  expect(r.stderr).toContain('Usage: eks-auth-sync');
});

it.each(['dist/cli.mjs', 'bin/eks-auth-sync.mjs'])('%s prints no AWS SDK Node.js version warning, on any supported Node.js', (script) => {
  const { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: _shown, ...env } = process.env;
  const r = spawnSync(process.execPath, [script, 'token', '--cluster-name', 'demo', '--region', 'eu-west-1'], {
    encoding: 'utf8',
    env: { ...env, AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
  });
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  expect(r.stdout).toContain('"kind": "ExecCredential"');
});
