import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Writes a policy file for one test app and returns its path (for AUTH_POLICY_FILE). */
export function policyFile(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-policy-'));
  const file = join(dir, 'auth.yaml');
  writeFileSync(file, yaml);
  return file;
}

/** The README's roles, with the rate limits given (none by default). */
export function standardPolicy(extra = ''): string {
  return `auth:
  modes: [jwt, api_key]
  roles:
    - name: admin
      permissions: ["*"]
    - name: operator
      permissions: [invoke, view_metrics]
    - name: viewer
      permissions: [view_metrics]
  default_role: operator
${extra}`;
}
