/** Builds the CLI and Lambda bundles (dist/cli.mjs, dist/lambda/) once before any test file runs, so none races another's build. */
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
}
