import { type ConformanceOptions, createKit, type Kit } from './kit.js';

/**
 * What every client-level suite shares: one kit for the backend under test, its capabilities
 * read once, everything it made closed at the end, and a last test that fails if anything the
 * suites did caused an unhandled rejection (the library promises none).
 */
export function conformanceFrame(
  title: string,
  options: ConformanceOptions,
  suites: (kit: Kit) => void,
): void {
  const kit = createKit(options);
  const { describe, it, beforeAll, afterAll } = options.runner;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };

  describe(`${title}: ${options.name}`, () => {
    beforeAll(async () => {
      process.on('unhandledRejection', onUnhandled);
      kit.capabilities = (await kit.backend()).capabilities;
    });
    afterAll(async () => {
      await kit.closeAll();
      process.off('unhandledRejection', onUnhandled);
    });

    suites(kit);

    it('caused no unhandled rejections', async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (unhandled.length > 0)
        throw new Error(`unhandled rejections: ${unhandled.map(String).join('; ')}`);
    });
  });
}
