import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface SelfSigned {
  readonly keyPath: string;
  readonly certPath: string;
  readonly key: Buffer;
  readonly cert: Buffer;
}

/**
 * A self-signed certificate in `dir`, for one day (EC P-256: quicker than RSA). With `ip`, it is
 * valid for that address (subjectAltName), so a client that verifies it against itself succeeds.
 */
export function selfSignedCert(dir: string, opts: { readonly cn: string; readonly ip?: string }): SelfSigned {
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
      ...['-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', `/CN=${opts.cn}`],
      ...(opts.ip === undefined ? [] : ['-addext', `subjectAltName=IP:${opts.ip}`]),
    ],
    { stdio: 'pipe' },
  );
  return { keyPath, certPath, key: readFileSync(keyPath), cert: readFileSync(certPath) };
}
