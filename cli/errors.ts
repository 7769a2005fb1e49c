/**
 * Errors the `lab` command reports to a person: one clear line on stderr and
 * a non-zero exit status, never a stack trace.
 *
 * @module
 */

/** Exit status for bad input from the user (a path, a lesson id, an image). */
export const EXIT_USAGE = 2;
/** Exit status for a check that ran and failed (grading, a device error). */
export const EXIT_FAILURE = 1;

/**
 * A problem with what the user asked for. The CLI prints `lab: <message>` and
 * exits with {@linkcode exitCode}.
 */
export class UserError extends Error {
  /** Process exit status (default {@linkcode EXIT_USAGE}). */
  readonly exitCode: number;

  /**
   * @param message One line, sentence case, naming the value that is wrong.
   * @param exitCode Process exit status.
   */
  constructor(message: string, exitCode = EXIT_USAGE) {
    super(message);
    this.name = "UserError";
    this.exitCode = exitCode;
  }
}
