import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The benchmarks' policy: the shipped roles, rate limits high enough never to refuse during a
 * run (the limiter still counts every request, so its cost is measured).
 */
const POLICY = `auth:
  modes: [jwt, api_key]
  roles:
    - name: admin
      permissions: ["*"]
    - name: operator
      permissions: [invoke, view_metrics]
  rate_limits:
    admin: "1000000000/minute"
    operator: "1000000000/minute"
    default: "1000000000/minute"
  rate_limit_backend: memory
  default_role: operator
`;

/** Writes the policy into `dir` and returns its path (for AUTH_POLICY_FILE). */
export function writeBenchPolicy(dir: string): string {
  const file = join(dir, 'auth.yaml');
  writeFileSync(file, POLICY);
  return file;
}
