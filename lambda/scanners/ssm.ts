import { GetParameterCommand, ParameterNotFound } from '@aws-sdk/client-ssm';
import { parseMappingsDocument } from '../config.js';
import { ScannerError } from '../errors.js';
import { describeError, type ScannerOfType, type Scanner } from './index.js';

/**
 * Mappings from one SSM parameter (String or SecureString, decrypted). Its value is base64 of a
 * `{users, roles}` YAML document, as the original eks-auth-sync stored it, or that document as
 * plain YAML or JSON. A missing parameter or an unparseable value fails the scanner.
 */
export const ssmScanner: Scanner<ScannerOfType<'ssm'>> = async ({ name, scanner, deps }) => {
  const parameter = `SSM parameter ${scanner.ssm.path}`;
  let value: string | undefined;
  try {
    const command = new GetParameterCommand({ Name: scanner.ssm.path, WithDecryption: true });
    value = (await deps.clients.ssm(scanner.aws).send(command)).Parameter?.Value;
  } catch (err) {
    const detail = err instanceof ParameterNotFound ? 'does not exist (ParameterNotFound)' : describeError(err);
    throw new ScannerError(`scanner "${name}": ${parameter}: ${detail}`, { cause: err });
  }
  if (value === undefined) throw new ScannerError(`scanner "${name}": ${parameter}: has no value`);
  const decoded = decodeBase64(value);
  const doc = decoded !== undefined
    ? parseMappingsDocument(decoded, `${parameter} (base64-decoded)`)
    : parseMappingsDocument(value, `${parameter} (not base64, so read as plain YAML or JSON)`);
  return { source: name, mappings: { users: doc.users, roles: doc.roles }, warnings: [] };
};

/** The text `value` encodes when it is strict base64 of UTF-8, else undefined (then it is plain YAML or JSON). */
export function decodeBase64(value: string): string | undefined {
  const compact = value.replace(/\s+/g, '');
  if (compact.length === 0 || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) return undefined;
  const bytes = Buffer.from(compact, 'base64');
  if (bytes.toString('base64') !== compact) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}
