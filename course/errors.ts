/**
 * Errors of the course engine that a learner or a lesson author should read
 * as one line: a lesson id that does not exist, a malformed lesson file, a
 * workspace state file written by a newer engine. The `lab` command turns
 * them into its own one-line `UserError`s; the engine never imports `cli/`.
 *
 * @module
 */

/** A problem with the course or the workspace, reported to a person in one line. */
export class CourseError extends Error {
  /** Suggested process exit status (2: bad input, 1: something ran and failed). */
  readonly exitCode: number;

  /**
   * An error to show in one line.
   *
   * @param message One line, sentence case, naming the file or value that is wrong.
   * @param exitCode Suggested process exit status (default 2).
   */
  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = "CourseError";
    this.exitCode = exitCode;
  }
}

/** A lesson reference (number, id or folder name) that matches no lesson. */
export class LessonNotFoundError extends CourseError {
  /** What the user typed. */
  readonly ref: string;

  /**
   * Names the reference and the valid ids.
   *
   * @param ref What the user typed.
   * @param validIds The valid lesson ids, in course order.
   */
  constructor(ref: string, validIds: readonly string[]) {
    const list = validIds.length === 0
      ? "the course has no lessons yet"
      : `valid: 1-${validIds.length} or ${validIds.join(", ")}`;
    super(`No lesson "${ref}" (${list})`);
    this.name = "LessonNotFoundError";
    this.ref = ref;
  }
}

/** A course file (manifest, lesson.json, hints.md, lesson.md) that does not follow the format. */
export class CourseFormatError extends CourseError {
  /** The offending file, relative to the course root when possible. */
  readonly file: string;

  /**
   * Names the file and the problem.
   *
   * @param file The offending file.
   * @param problem What is wrong with it.
   */
  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = "CourseFormatError";
    this.file = file;
  }
}
