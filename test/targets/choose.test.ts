import { describe, expect, it } from 'vitest';
import { TargetModeError } from '../../lambda/errors.js';
import { chooseTargets, type TargetSetting } from '../../lambda/targets/choose.js';

describe('chooseTargets', () => {
  it.each([
    ['auto', 'CONFIG_MAP', ['configMap']],
    ['auto', undefined, ['configMap']],
    ['auto', 'API_AND_CONFIG_MAP', ['configMap']],
    ['auto', 'API', ['accessEntries']],
    ['configMap', 'CONFIG_MAP', ['configMap']],
    ['configMap', 'API_AND_CONFIG_MAP', ['configMap']],
    ['accessEntries', 'API_AND_CONFIG_MAP', ['accessEntries']],
    ['accessEntries', 'API', ['accessEntries']],
    ['both', 'API_AND_CONFIG_MAP', ['configMap', 'accessEntries']],
  ] as const)('%s on a %s cluster writes %j, saying why', (setting, mode, targets) => {
    const choice = chooseTargets(setting, mode, 'prod');
    expect(choice.targets).toEqual(targets);
    expect(choice.reason).toContain(mode ?? 'CONFIG_MAP');
  });

  it('auto on API_AND_CONFIG_MAP notes that accessEntries or both is available', () => {
    expect(chooseTargets('auto', 'API_AND_CONFIG_MAP', 'prod').note).toMatch(/accessEntries, or both/);
    expect(chooseTargets('auto', 'CONFIG_MAP', 'prod').note).toBeUndefined();
  });

  it.each([
    ['configMap', 'API', /ignores aws-auth/],
    ['both', 'API', /ignores aws-auth/],
    ['accessEntries', 'CONFIG_MAP', /no access entries/],
    ['both', 'CONFIG_MAP', /no access entries/],
  ] as [TargetSetting, string, RegExp][])('%s on a %s cluster is refused: %s', (setting, mode, why) => {
    expect(() => chooseTargets(setting, mode, 'prod')).toThrow(TargetModeError);
    expect(() => chooseTargets(setting, mode, 'prod')).toThrow(why);
    expect(() => chooseTargets(setting, mode, 'prod')).toThrow(/cluster prod .*Nothing was written/);
  });
});
