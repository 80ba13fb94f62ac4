import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { isFleetConfig, loadAnyConfig, loadConfig, parseAnyConfig, parseConfig, parseMappingsDocument, scannerName } from '../lambda/config.js';
import { ConfigError } from '../lambda/errors.js';

const minimal = 'cluster: {name: prod}\nscanners:\n- type: file\n  file: {path: mappings.yaml}\n';

function problems(text: string, parse: (text: string, origin: string) => unknown = parseConfig): string {
  try {
    parse(text, 'config.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected the config to be rejected');
}

describe('parseConfig', () => {
  it('applies the documented defaults', () => {
    const c = parseConfig('cluster: {name: prod}\nscanners:\n- type: iam\n  iam: {}\n', 'config.yaml');
    expect(c.sync).toEqual({ mode: 'merge', allowEmpty: false, maxRemovals: 20, conflictRetries: 5 });
    expect(c.scanners[0]).toEqual({
      type: 'iam',
      iam: {
        pathPrefix: '/', groupSeparator: '::', disableUserScan: false, disableRoleScan: false,
        mode: 'bulk', concurrency: 8, allowSystemGroups: [], allowAccessPolicies: [],
      },
    });
  });

  it('reads JSON as well as YAML', () => {
    const json = JSON.stringify({ cluster: { name: 'prod' }, scanners: [{ type: 'file', file: { path: 'mappings.yaml' } }] });
    expect(parseConfig(json, 'config.json')).toEqual(parseConfig(minimal, 'config.yaml'));
  });

  it('accepts a config in the original eks-auth-sync shape, all four scanners and aws sections', () => {
    const c = parseConfig(`
cluster: {name: prod, region: eu-central-1, accountID: "111122223333"}
aws: {region: eu-west-1, maxRetries: 5}
scanners:
- type: static
  name: admins
  static:
    roles: [{rolearn: "arn:aws:iam::111122223333:role/Admin", username: admin, groups: [system:masters]}]
    users: [{userarn: "arn:aws:iam::111122223333:user/alice", username: alice}]
- type: file
  file: {path: mappings.yaml}
- type: iam
  aws: {roleARN: "arn:aws:iam::444455556666:role/Reader", endpoint: "https://iam.example.test"}
  iam: {clusterName: prod, clusterAccountID: "111122223333", pathPrefix: /teams/, groupSeparator: ",", disableUserScan: true, disableRoleScan: false}
- type: ssm
  ssm: {path: /eks/prod/auth}
`, 'config.yaml');
    expect(c.scanners.map(scannerName)).toEqual(['admins', 'file[1]', 'iam[2]', 'ssm[3]']);
    expect(c.scanners[0]).toMatchObject({ static: { users: [{ groups: [] }] } });
  });

  it.each([
    ['a missing field', 'cluster: {}\nscanners: [{type: iam, iam: {}}]', 'cluster.name: required'],
    ['an unknown top-level key', `${minimal}bogus: {}`, 'bogus: unknown key'],
    ['an unknown nested key', 'cluster: {name: c}\nscanners: [{type: iam, iam: {bogus: x}}]', 'config.yaml: scanners[0].iam.bogus: unknown key'],
    ['a wrong type', 'cluster: {name: c}\nscanners: [{type: iam, iam: {disableUserScan: "yes"}}]',
      'scanners[0].iam.disableUserScan: expected boolean, got string "yes"'],
    ['an unknown scanner type', 'cluster: {name: c}\nscanners: [{type: ldap}]', 'scanners[0].type: expected one of static, file, iam, ssm, iamGroups, identityCenter (got "ldap")'],
    ['a scanner without a type', 'cluster: {name: c}\nscanners: [{iam: {}}]', 'scanners[0].type: required: one of static, file, iam, ssm, iamGroups, identityCenter'],
    ['a section that does not match the type', 'cluster: {name: c}\nscanners: [{type: iam, static: {}}]',
      'scanners[0].static: a scanner of type iam takes an "iam" section, not "static"'],
    ['the original kubernetes section', `${minimal}kubernetes: {kubeconfig: ~/.kube/config}`,
      'kubernetes: not supported; the cluster section replaces it (cluster.name, cluster.region)'],
    ['an unquoted account ID', 'cluster: {name: c, accountID: 111122223333}\nscanners: [{type: iam, iam: {}}]',
      'cluster.accountID: expected string, got number 111122223333'],
    ['a short account ID', 'cluster: {name: c}\nscanners: [{type: iam, iam: {clusterAccountID: "123"}}]',
      'scanners[0].iam.clusterAccountID: expected a 12-digit AWS account ID as a string (quote it in YAML) (got "123")'],
    ['concurrency out of range', 'cluster: {name: c}\nscanners: [{type: iam, iam: {mode: perIdentity, concurrency: 64}}]',
      'scanners[0].iam.concurrency: must be at most 32 (got number 64)'],
    ['a negative maxRetries', `${minimal}aws: {maxRetries: -1}`, 'aws.maxRetries: must be at least 0 (got number -1)'],
    ['an invalid endpoint', `${minimal}aws: {endpoint: not a url}`, 'aws.endpoint: expected a url (got "not a url")'],
    ['a bad sync mode', `${minimal}sync: {mode: overwrite}`, 'sync.mode: expected one of "merge", "replace" (got "overwrite")'],
    ['a bad schedule', `${minimal}deployment: {schedule: every hour}`,
      'deployment.schedule: expected an EventBridge schedule expression: rate(15 minutes) or cron(0 * * * ? *) (got "every hour")'],
    ['no scanners', 'cluster: {name: c}\nscanners: []', 'scanners: at least one scanner is required'],
    ['a role ARN that is a user ARN', 'cluster: {name: c}\nscanners: [{type: static, static: {roles: [{rolearn: "arn:aws:iam::111122223333:user/a", username: a}]}}]',
      'scanners[0].static.roles[0].rolearn: "arn:aws:iam::111122223333:user/a" is not an IAM role ARN (arn:<partition>:iam::<12-digit account>:role/[path/]<name>)'],
    ['a broken user ARN', 'cluster: {name: c}\nscanners: [{type: static, static: {users: [{userarn: "arn:aws:iam::111122223333:user/a", username: a}, {userarn: "arn:aws:iam::12345:usr/broken", username: b}]}}]',
      'scanners[0].static.users[1].userarn: "arn:aws:iam::12345:usr/broken" is not an IAM user ARN'],
    ['an entry group with a space', 'cluster: {name: c}\nscanners: [{type: static, static: {users: [{userarn: "arn:aws:iam::111122223333:user/a", username: a, groups: ["a b"]}]}}]',
      'scanners[0].static.users[0].groups: group name "a b" may only contain'],
    ['a static username whose prefix a template picks',
      'cluster: {name: c}\nscanners: [{type: static, static: {roles: [{rolearn: "arn:aws:iam::111122223333:role/a", username: "{{SessionName}}:kube-scheduler"}]}}]',
      'scanners[0].static.roles[0].username: username "{{SessionName}}:kube-scheduler" has a template before its first ":", so the session name picks its prefix (it can render "system:kube-scheduler")'],
    ['a system group that is not one', 'cluster: {name: c}\nscanners: [{type: iam, iam: {allowSystemGroups: [masters]}}]',
      'scanners[0].iam.allowSystemGroups[0]: expected a value starting with "system:" (got "masters")'],
    ['an allowed access policy that tags may grant anyway', 'cluster: {name: c}\nscanners: [{type: iam, iam: {allowAccessPolicies: [AmazonEKSViewPolicy]}}]',
      'scanners[0].iam.allowAccessPolicies[0]: expected one of "AmazonEKSClusterAdminPolicy", "AmazonEKSAdminPolicy" (got "AmazonEKSViewPolicy")'],
    ...([
      ['an access policy ARN instead of its name', '{policy: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"}',
        'roles[0].accessPolicies[0]: access policy "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy" is not an access policy name (e.g. AmazonEKSViewPolicy)'],
      ['a namespace that is not a DNS label', '{policy: AmazonEKSViewPolicy, namespaces: [dev, Team_A]}',
        'roles[0].accessPolicies[0]: access policy AmazonEKSViewPolicy: "Team_A" is not a namespace name (wildcards like team-* allowed)'],
      ['an empty namespaces list', '{policy: AmazonEKSEditPolicy, namespaces: []}',
        'roles[0].accessPolicies[0]: access policy AmazonEKSEditPolicy: an empty namespaces list (leave namespaces out for cluster scope)'],
      ['a namespace that is not a string', '{policy: AmazonEKSEditPolicy, namespaces: [1]}',
        'roles[0].accessPolicies[0].namespaces[0]: expected string, got number 1'],
      ['an access policy without its name', '{namespaces: [dev]}', 'roles[0].accessPolicies[0].policy: required'],
      ['a misspelt access policy key', '{policy: AmazonEKSViewPolicy, namespace: [dev]}',
        'roles[0].accessPolicies[0].namespace: unknown key; did you mean namespaces?'],
    ] as const).map(([what, spec, expected]) => [
      what,
      `cluster: {name: c}\nscanners: [{type: static, static: {roles: [{rolearn: "arn:aws:iam::111122223333:role/a", username: a, accessPolicies: [${spec}]}]}}]`,
      `scanners[0].static.${expected}`,
    ]),
  ])('rejects %s naming its path', (_what, text, expected) => {
    expect(problems(text)).toContain(expected);
  });

  it('accepts the operator\'s literal reserved prefixes and usernames of templates only in static entries', () => {
    const c = parseConfig(`cluster: {name: c}
scanners:
- type: static
  static:
    roles:
    - {rolearn: "arn:aws:iam::111122223333:role/node", username: "system:node:{{EC2PrivateDNSName}}", groups: [system:bootstrappers, system:nodes]}
    - {rolearn: "arn:aws:iam::111122223333:role/sso", username: "{{SessionName}}", groups: [system:masters]}
`, 'config.yaml');
    expect(c.scanners[0]).toMatchObject({ static: { roles: [{ username: 'system:node:{{EC2PrivateDNSName}}' }, { username: '{{SessionName}}' }] } });
  });

  it.each([
    ['differs only in case', 'scanners: [{type: iam, iam: {clustername: x}}]', 'scanners[0].iam.clustername: unknown key; did you mean clusterName?'],
    ['has a small typo', 'scanners: [{type: iam, iam: {clusterNmae: x}}]', 'scanners[0].iam.clusterNmae: unknown key; did you mean clusterName?'],
    ['is in a static entry', 'scanners: [{type: static, static: {roles: [{rolearn: "arn:aws:iam::111122223333:role/a", username: a, group: [x]}]}}]',
      'scanners[0].static.roles[0].group: unknown key; did you mean groups?'],
    ['is in a section', 'sync: {maxRemoval: 3}\nscanners: [{type: file, file: {path: m.yaml}}]', 'sync.maxRemoval: unknown key; did you mean maxRemovals?'],
    ['is at the top level', 'scaners: []\nscanners: [{type: file, file: {path: m.yaml}}]', 'scaners: unknown key; did you mean scanners?'],
    ['is of the scanner type that is set', 'scanners: [{type: ssm, ssm: {Path: /x}}]', 'scanners[0].ssm.Path: unknown key; did you mean path?'],
  ])('names the key meant when an unknown key %s', (_what, text, expected) => {
    expect(problems(`cluster: {name: c}\n${text}`)).toContain(expected);
  });

  it('suggests nothing for a key unlike any known one, nor a key from another section', () => {
    expect(problems('cluster: {name: c}\nscanners: [{type: iam, iam: {bogus: 1}}]')).toBe('config.yaml: scanners[0].iam.bogus: unknown key');
    expect(problems('cluster: {name: c}\nscanners: [{type: file, file: {path: m, mode: bulk}}]')).toBe('config.yaml: scanners[0].file.mode: unknown key');
  });

  it('cuts a long rejected value short in the message', () => {
    const message = problems(`${minimal}sync: {mode: ${'x'.repeat(5000)}}`);
    expect(message).toContain('sync.mode: expected one of "merge", "replace" (got "xxxx');
    expect(message).toContain('… (5000 characters))');
    expect(message.length).toBeLessThan(200);
  });

  it('lists every problem at once', () => {
    const message = problems('kubernetes: {}\ncluster: {}\nscanners: [{type: iam, iam: {bogus: 1}}, {type: file}]');
    expect(message).toMatch(/^config\.yaml: 4 problems:/);
    for (const p of ['kubernetes: not supported', 'cluster.name: required', 'scanners[0].iam.bogus: unknown key', 'scanners[1].file: required']) {
      expect(message).toContain(p);
    }
  });

  it('rejects duplicate keys', () => {
    expect(problems('cluster: {name: a}\ncluster: {name: b}\nscanners: []')).toMatch(/not valid YAML or JSON: Map keys must be unique/);
  });

  it('fails cleanly on an alias bomb', () => {
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i++) levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
    expect(problems(levels.join('\n'))).toMatch(/not valid YAML or JSON: .*alias/i);
  });

  it('accepts the CDK app\'s deployment section, which the sync itself does not use, and checks it like the rest', () => {
    expect(parseConfig(`${minimal}deployment: {memorySize: 512, schedule: rate(1 hour)}\n`, 'config.yaml').deployment)
      .toEqual({ memorySize: 512, schedule: 'rate(1 hour)' });
    expect(problems(`${minimal}deployment: {memorySize: 512, memory: 1}\n`)).toBe('config.yaml: deployment.memory: unknown key');
  });

  it('rejects a document that is not a mapping', () => {
    expect(problems('- just\n- a list')).toContain('(top level): expected object, got a list');
  });
});

describe('the iamGroups and identityCenter sections', () => {
  const withScanner = (scanner: string): string => `cluster: {name: c}\nscanners: [${scanner}]`;

  it('applies the documented defaults: bulk mode, the user\'s name, the permission set\'s default username left to the scanner', () => {
    const c = parseConfig(withScanner('{type: iamGroups, iamGroups: {groups: [{name: developers}]}}, {type: identityCenter, identityCenter: {permissionSets: [{name: AdministratorAccess, groups: [system:masters]}]}}'), 'c.yaml');
    expect(c.scanners).toEqual([
      { type: 'iamGroups', iamGroups: { mode: 'bulk', groups: [{ name: 'developers', username: '{{UserName}}', groups: [] }] } },
      { type: 'identityCenter', identityCenter: { mode: 'bulk', permissionSets: [{ name: 'AdministratorAccess', groups: ['system:masters'] }] } },
    ]);
    expect(scannerName(c.scanners[1]!, 1)).toBe('identityCenter[1]');
  });

  it('accepts member templates after a prefix, with no colon, or the account', () => {
    const c = parseConfig(withScanner('{type: iamGroups, iamGroups: {mode: perIdentity, groups: [{name: a, username: "dev:{{UserName}}"}, {name: b, username: "{{UserName}}-{{AccountID}}"}, {name: c, username: "{{UserName}}:x"}]}}'), 'c.yaml');
    expect(c.scanners[0]).toMatchObject({ iamGroups: { mode: 'perIdentity', groups: [{ username: 'dev:{{UserName}}' }, { username: '{{UserName}}-{{AccountID}}' }, { username: '{{UserName}}:x' }] } });
  });

  it.each([
    ['a template the authenticator renders for roles only', '{type: iamGroups, iamGroups: {groups: [{name: a, username: "dev:{{SessionName}}"}]}}',
      'scanners[0].iamGroups.groups[0].username: username "dev:{{SessionName}}" uses an unknown template (known here: {{UserName}}, {{AccountID}})'],
    ['a username every member would render reserved', '{type: iamGroups, iamGroups: {groups: [{name: a, username: "system:{{UserName}}"}]}}',
      'scanners[0].iamGroups.groups[0].username: username "system:{{UserName}}": every member would get a "system:" username'],
    ['a fixed reserved username', '{type: iamGroups, iamGroups: {groups: [{name: a, username: "eks:admin"}]}}',
      'scanners[0].iamGroups.groups[0].username: username "eks:admin": every member would get a "eks:" username'],
    ['a username no member can have', '{type: iamGroups, iamGroups: {groups: [{name: a, username: "dev {{UserName}}"}]}}',
      'scanners[0].iamGroups.groups[0].username: username "dev {{UserName}}" renders "dev alice" for the user alice: username "dev alice" may only contain'],
    ['an IAM group name IAM refuses', '{type: iamGroups, iamGroups: {groups: [{name: "dev ops"}]}}',
      'scanners[0].iamGroups.groups[0].name: expected an IAM group name'],
    ['no groups', '{type: iamGroups, iamGroups: {groups: []}}', 'scanners[0].iamGroups.groups: list at least one IAM group'],
    ['a group with a template', '{type: iamGroups, iamGroups: {groups: [{name: a, groups: ["team-{{UserName}}"]}]}}',
      'scanners[0].iamGroups.groups[0].groups: group name "team-{{UserName}}" contains a template'],
    ['a misspelt key', '{type: iamGroups, iamGroups: {groups: [{name: a, usernme: x}]}}', 'scanners[0].iamGroups.groups[0].usernme: unknown key; did you mean username?'],
    ['a bad access policy', '{type: iamGroups, iamGroups: {groups: [{name: a, accessPolicies: [{policy: AmazonEKSViewPolicy, namespaces: []}]}]}}',
      'scanners[0].iamGroups.groups[0].accessPolicies[0]: access policy AmazonEKSViewPolicy: an empty namespaces list'],
    ['a permission set name longer than 32', `{type: identityCenter, identityCenter: {permissionSets: [{name: ${'A'.repeat(33)}}]}}`,
      'scanners[0].identityCenter.permissionSets[0].name: expected a permission set name'],
    ['a permission set username with a template and no prefix', '{type: identityCenter, identityCenter: {permissionSets: [{name: Admin, username: "{{SessionName}}"}]}}',
      'scanners[0].identityCenter.permissionSets[0].username: an access entry username may use a template only after a literal prefix with a colon'],
    ['a reserved permission set username', '{type: identityCenter, identityCenter: {permissionSets: [{name: Admin, username: "system:admin"}]}}',
      'scanners[0].identityCenter.permissionSets[0].username: an access entry username cannot start with system:'],
    ['a name the default username cannot hold', '{type: identityCenter, identityCenter: {permissionSets: [{name: "a,b"}]}}',
      'scanners[0].identityCenter.permissionSets[0].username: the default username does not work for this name'],
    ['no permission sets', '{type: identityCenter, identityCenter: {permissionSets: []}}', 'scanners[0].identityCenter.permissionSets: list at least one permission set'],
    ['the section of another type', '{type: identityCenter, iamGroups: {groups: [{name: a}]}}',
      'scanners[0].iamGroups: a scanner of type identityCenter takes an "identityCenter" section, not "iamGroups"'],
  ])('rejects %s naming its path', (_what, scanner, expected) => {
    expect(problems(withScanner(scanner))).toContain(expected);
  });
});

describe('cluster: or clusters:', () => {
  const shared = 'scanners: [{type: iam, iam: {}}]\n';
  const anyProblems = (text: string): string => problems(text, parseAnyConfig);

  it('reads a cluster: config as before, with a role for the cluster\'s calls', () => {
    const c = parseAnyConfig(`cluster: {name: prod, roleARN: "arn:aws:iam::444455556666:role/eks-auth-sync"}\n${shared}`, 'config.yaml');
    expect(isFleetConfig(c)).toBe(false);
    expect(c).toMatchObject({ cluster: { name: 'prod', roleARN: 'arn:aws:iam::444455556666:role/eks-auth-sync' }, scanners: [{ type: 'iam' }] });
  });

  it('reads a clusters: list with per-cluster sync and scanners, sharing the top-level scanners', () => {
    const c = parseAnyConfig(`clusters:
- {name: prod, region: eu-west-1}
- name: staging
  accountID: "444455556666"
  roleARN: "arn:aws:iam::444455556666:role/eks-auth-sync"
  sync: {target: accessEntries, maxRemovals: 3}
  scanners: [{type: ssm, ssm: {path: /eks/staging/auth}}]
sync: {mode: replace}
${shared}`, 'config.yaml');
    if (!isFleetConfig(c)) throw new Error('expected a clusters: config');
    expect(c.clusters.map((k) => k.name)).toEqual(['prod', 'staging']);
    expect(c.clusters[1]).toMatchObject({ sync: { target: 'accessEntries', maxRemovals: 3 }, scanners: [{ type: 'ssm' }] });
    expect(c.clusters[0]?.scanners).toBeUndefined();
    expect(c.scanners).toHaveLength(1);
  });

  it.each([
    ['both cluster and clusters', `cluster: {name: a}\nclusters: [{name: b}]\n${shared}`, 'config.yaml: cluster, clusters: give one of them'],
    ['neither', shared, 'config.yaml: cluster: required (or clusters: a list of clusters)'],
    ['a cluster named twice', `clusters: [{name: a}, {name: b}, {name: a}]\n${shared}`,
      'clusters[2].name: "a" is also the name of clusters[0]; name each cluster once'],
    ['a cluster without scanners when none are shared', 'clusters: [{name: a, scanners: [{type: iam, iam: {}}]}, {name: b}]',
      'config.yaml: clusters[1].scanners: required: this cluster has none, and there are no top-level scanners to share'],
    ['an empty list', `clusters: []\n${shared}`, 'clusters: at least one cluster is required'],
    ['an unknown key in a cluster', `clusters: [{name: a, regoin: eu-west-1}]\n${shared}`, 'clusters[0].regoin: unknown key; did you mean region?'],
    ['an unknown sync override', `clusters: [{name: a, sync: {maxRemoval: 1}}]\n${shared}`, 'clusters[0].sync.maxRemoval: unknown key; did you mean maxRemovals?'],
    ['a cluster role that is not a role', `clusters: [{name: a, roleARN: "arn:aws:iam::111122223333:user/a"}]\n${shared}`, 'clusters[0].roleARN:'],
    ['a cluster scanner section that does not match its type', `clusters: [{name: a, scanners: [{type: iam, static: {}}]}]`,
      'clusters[0].scanners[0].static: a scanner of type iam takes an "iam" section, not "static"'],
  ])('rejects %s', (_what, text, expected) => {
    expect(anyProblems(text)).toContain(expected);
  });

  it('a one-cluster reader names the form it cannot take', () => {
    expect(problems(`clusters: [{name: a}]\n${shared}`)).toContain('config.yaml: clusters: this reads a config for one cluster (cluster:)');
  });

  it('loadAnyConfig reads either form from a file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eas-config-'));
    writeFileSync(join(dir, 'c.yaml'), `clusters: [{name: a}, {name: b}]\n${shared}`);
    const { config, baseDir } = await loadAnyConfig(join(dir, 'c.yaml'));
    expect(baseDir).toBe(dir);
    expect(isFleetConfig(config) && config.clusters.map((c) => c.name)).toEqual(['a', 'b']);
  });
});

describe('the example configs', () => {
  it.each(['examples/local.yaml', 'examples/full.yaml', 'examples/cdk-cluster.yaml'])('%s is valid', async (path) => {
    const { config } = await loadConfig(path);
    expect(config.scanners.length).toBeGreaterThan(0);
  });

  it('examples/full.yaml shows every scanner type', async () => {
    const { config } = await loadConfig('examples/full.yaml');
    expect(config.scanners.map((s) => s.type).sort()).toEqual(['file', 'iam', 'iamGroups', 'identityCenter', 'ssm', 'static']);
  });
});

describe('parseMappingsDocument', () => {
  it('reads access policies, without namespaces at cluster scope, with namespace wildcards', () => {
    const doc = parseMappingsDocument(`users:
- userarn: arn:aws:iam::111122223333:user/a
  username: a
  accessPolicies:
  - {policy: AmazonEKSViewPolicy, namespaces: [dev, team-*]}
  - {policy: AmazonEKSClusterAdminPolicy}
`, 'm.yaml');
    expect(doc.users[0]?.accessPolicies).toEqual([
      { policy: 'AmazonEKSViewPolicy', namespaces: ['dev', 'team-*'] }, { policy: 'AmazonEKSClusterAdminPolicy' },
    ]);
  });

  it('names the path and value of a bad access policy in a file', () => {
    expect(() => parseMappingsDocument('roles: [{rolearn: "arn:aws:iam::111122223333:role/a", username: a, accessPolicies: [{policy: View-Policy}]}]', 'm.yaml'))
      .toThrow('m.yaml: roles[0].accessPolicies[0]: access policy "View-Policy" is not an access policy name (e.g. AmazonEKSViewPolicy)');
  });

  it('fills in missing sections and groups', () => {
    expect(parseMappingsDocument('users: [{userarn: "arn:aws:iam::111122223333:user/a", username: a}]', 'm.yaml'))
      .toEqual({ users: [{ userarn: 'arn:aws:iam::111122223333:user/a', username: 'a', groups: [] }], roles: [] });
  });
});

describe('loadConfig', () => {
  it('reads a file and resolves relative paths against its directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eas-config-'));
    writeFileSync(join(dir, 'c.yaml'), minimal);
    const { config, baseDir } = await loadConfig(join(dir, 'c.yaml'));
    expect(baseDir).toBe(dir);
    expect(config.cluster.name).toBe('prod');
  });

  it('reads the config from stdin when the path is -', async () => {
    const { config, baseDir } = await loadConfig('-', Readable.from([minimal]));
    expect(config.cluster.name).toBe('prod');
    expect(baseDir).toBe(process.cwd());
  });

  it('names the file it cannot read', async () => {
    await expect(loadConfig('/nonexistent/c.yaml')).rejects.toThrow(/\/nonexistent\/c\.yaml: cannot read the config file/);
  });
});
