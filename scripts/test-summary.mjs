// Adds up every package's vitest JSON report into one closing line for CI:
//   Tests: N passed, N failed, N skipped
// preceded by the name and first message line of every failed test, so that a CI log cut to
// its tail still says which test failed and why.
// Exits non-zero if any package failed or reported nothing.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
let passed = 0;
let failed = 0;
let skipped = 0;
let reports = 0;
const failures = [];
for (const dir of readdirSync(join(root, 'packages'))) {
  const file = join(root, 'packages', dir, 'test-results.json');
  if (!existsSync(file)) continue;
  const report = JSON.parse(readFileSync(file, 'utf8'));
  reports++;
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += report.numPendingTests + report.numTodoTests;
  console.log(`  ${dir}: ${report.numPassedTests} passed, ${report.numFailedTests} failed`);
  for (const file of report.testResults ?? []) {
    for (const test of file.assertionResults ?? []) {
      if (test.status !== 'failed') continue;
      const why = (test.failureMessages?.[0] ?? '').split('\n')[0].slice(0, 300);
      failures.push(`  FAILED ${dir}: ${test.fullName}\n         ${why}`);
    }
    // A file that failed to load (syntax error, a hook that threw) has no failed test of its own.
    if (
      file.status === 'failed' &&
      !(file.assertionResults ?? []).some((t) => t.status === 'failed')
    ) {
      failures.push(
        `  FAILED ${dir}: ${file.name}\n         ${(file.message ?? '').split('\n')[0].slice(0, 300)}`,
      );
    }
  }
}
for (const line of failures) console.log(line);
console.log(`Tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
if (reports === 0 || failed > 0 || passed === 0) process.exit(1);
