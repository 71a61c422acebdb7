import { DEFAULT_LOCAL_OPTIONS, type LocalOptions } from '../../functions/local/options.ts';

/**
 * The local stack as tests and benches run it: free ports, no inbox, no model download, no
 * interactive output, the tiny known-answer models (MODELS_DIR from test/global-setup.ts).
 */
export function testStackOptions(dataDir: string, overrides: Partial<LocalOptions> = {}): LocalOptions {
  return {
    ...DEFAULT_LOCAL_OPTIONS,
    httpPort: 0,
    s3Port: 0,
    sqsPort: 0,
    dataDir,
    inboxDir: undefined,
    fetchModels: false,
    interactive: false,
    modelsDir: process.env.MODELS_DIR,
    ...overrides,
  };
}
