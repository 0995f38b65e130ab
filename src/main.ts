// Process entry: run the CLI and turn failures into an exit code.

import { buildProgram } from './cli/program.js';

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    process.stderr.write(`airlock: ${(err as Error)?.message ?? String(err)}\n`);
    process.exit(1);
  });
