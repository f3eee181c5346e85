/** A command line that cannot be carried out as written: the CLI prints it with the usage, exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
