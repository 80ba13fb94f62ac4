import { createHash } from 'node:crypto';
import type { SsmParameter } from './dataset.js';
import { json11Protocol } from './protocols.js';
import { ServiceError, startServer, type ServerOptions, type StandinServer } from './server.js';

/** Options for `startSsm`. */
export interface SsmStandinOptions extends ServerOptions {
  region: string;
  accountId: string;
  parameters: readonly SsmParameter[];
}

/** The SSM stand-in: parameters can be changed between runs. */
export interface SsmStandin extends StandinServer {
  /** Creates or overwrites a parameter; an overwrite bumps its version as PutParameter does. */
  putParameter(p: SsmParameter): void;
  deleteParameter(name: string): void;
}

/** What SSM shows for a SecureString read without decryption: stable, opaque, not the value. */
function ciphertext(p: SsmParameter): string {
  const blob = createHash('sha512').update(`${p.name}\0${p.value}`).digest();
  return Buffer.concat([Buffer.from([0x01, 0x02, 0x02, 0x00, 0x78]), blob, Buffer.from(p.value).map((b) => b ^ 0x5a)]).toString('base64');
}

/**
 * Starts the SSM stand-in (JSON 1.1): GetParameter for String, StringList and SecureString,
 * by name or ARN, with and without decryption.
 */
export async function startSsm(opts: SsmStandinOptions): Promise<SsmStandin> {
  const protocol = json11Protocol('AmazonSSM');
  const params = new Map<string, SsmParameter & { version: number; modified: number }>();
  const put = (p: SsmParameter): void => {
    const previous = params.get(p.name);
    params.set(p.name, { ...p, version: p.version ?? (previous ? previous.version + 1 : 1), modified: Date.UTC(2025, 0, 1) / 1000 });
  };
  opts.parameters.forEach(put);
  const arnOf = (name: string): string => `arn:aws:ssm:${opts.region}:${opts.accountId}:parameter${name.startsWith('/') ? '' : '/'}${name}`;

  const server = await startServer(
    {
      signingName: 'ssm',
      regions: [opts.region],
      protocol,
      handlers: {
        GetParameter: (req, ctx) => {
          const input = JSON.parse(req.body.toString('utf8') || '{}') as { Name?: unknown; WithDecryption?: unknown };
          if (typeof input.Name !== 'string' || input.Name === '') {
            throw new ServiceError(400, 'ValidationException', "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null");
          }
          const arn = /^arn:[^:]+:ssm:[^:]*:\d*:parameter(\/.*)$/.exec(input.Name);
          const name = arn?.[1] === undefined ? input.Name : params.has(arn[1]) ? arn[1] : arn[1].slice(1);
          const p = params.get(name);
          if (p === undefined) throw new ServiceError(400, 'ParameterNotFound', '');
          const value = p.type === 'SecureString' && input.WithDecryption !== true ? ciphertext(p) : p.value;
          return protocol.result(
            { Parameter: { ARN: arnOf(p.name), DataType: 'text', LastModifiedDate: p.modified, Name: p.name, Type: p.type, Value: value, Version: p.version } },
            ctx.requestId,
          );
        },
      },
    },
    opts,
  );
  return { ...server, putParameter: put, deleteParameter: (name) => void params.delete(name) };
}
