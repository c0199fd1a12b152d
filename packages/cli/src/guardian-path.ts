import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The guardian's entry point: next to this module in the built package (dist/guardian.js), and
 * the built one when this module runs from src/ (the in-process tests).
 */
export function guardianPath(): string {
  const bundled = fileURLToPath(new URL('./guardian.js', import.meta.url));
  if (existsSync(bundled)) return bundled;
  const built = fileURLToPath(new URL('../dist/guardian.js', import.meta.url));
  if (existsSync(built)) return built;
  throw new Error(`the dlock guardian is missing (${bundled}): reinstall @dlock/cli`);
}
