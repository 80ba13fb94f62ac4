/**
 * The artifact `cdk deploy` uploads (built by test/support/bundle.ts through the construct):
 * what it carries and how big it is.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseConfig } from '../lambda/config.js';
import { buildBundle, type Bundle } from './support/bundle.js';

const examples = join(import.meta.dirname, '../examples');
const BUNDLE_LIMIT_BYTES = 650 * 1024;

describe('the deployed bundle', () => {
  let bundle: Bundle;
  beforeAll(() => {
    bundle = buildBundle({
      config: {
        cluster: { name: 'bundle-test' },
        scanners: [
          { type: 'static', name: 'admins', static: { roles: [] } },
          { type: 'file', name: 'platform', file: { path: 'cdk-mappings.yaml' } },
        ],
      },
      configDir: examples,
    });
  });
  afterAll(() => bundle.dispose());

  test('carries the validated config and every file its file scanners name', () => {
    const shipped = readFileSync(join(bundle.dir, bundle.environment['CONFIG_PATH'] ?? ''), 'utf8');
    const config = parseConfig(shipped, 'config.json');
    expect(config.cluster.name).toBe('bundle-test');
    const file = config.scanners[1];
    expect(file?.type === 'file' && file.file.path).toBe('files/1-cdk-mappings.yaml');
    expect(readFileSync(join(bundle.dir, 'files/1-cdk-mappings.yaml'), 'utf8')).toBe(
      readFileSync(join(examples, 'cdk-mappings.yaml'), 'utf8'),
    );
  });

  test('is one ES module with a source map, within 650 KB', () => {
    expect(existsSync(`${bundle.entry}.map`)).toBe(true);
    const code = readFileSync(bundle.entry, 'utf8');
    expect(code.startsWith("import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);")).toBe(true);
    expect(code).toMatch(/\bexport\{[^}]+\}/);
    expect(bundle.sizeBytes).toBeLessThanOrEqual(BUNDLE_LIMIT_BYTES);
  });

  test('a large static mapping list travels in the asset, not in the environment', () => {
    const roles = Array.from({ length: 3_000 }, (_, i) => ({
      rolearn: `arn:aws:iam::111122223333:role/team-${i}`,
      username: `team-${i}`,
      groups: ['developers'],
    }));
    const large = buildBundle({ config: { cluster: { name: 'big' }, scanners: [{ type: 'static', static: { roles } }] } });
    try {
      const shipped = parseConfig(readFileSync(join(large.dir, 'config.json'), 'utf8'), 'config.json');
      const scanner = shipped.scanners[0];
      expect(scanner?.type === 'static' && scanner.static.roles.length).toBe(3_000);
      expect(JSON.stringify(large.environment).length).toBeLessThan(1_024);
    } finally {
      large.dispose();
    }
  });
});
