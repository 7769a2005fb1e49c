/**
 * The conformance machinery: the requirement table (the normative statements
 * of virtio v1.2 this project covers, with stable ids, and the project's
 * derived rules), the conformance log every check of the other side reports
 * to, and the notes the coverage table uses.
 *
 * @module
 */

export {
  DERIVED_RULES,
  type DerivedId,
  findRequirement,
  isRequirementId,
  NORMATIVE_REQUIREMENTS,
  type NormativeId,
  type Requirement,
  requirement,
  type RequirementId,
  type RequirementLevel,
  type Role,
  SECTION_TITLES,
} from "./requirements.ts";
export {
  ConformanceError,
  ConformanceLog,
  type ConformanceLogOptions,
  ConformanceReporter,
  formatViolation,
  type Violation,
  type ViolationListener,
  type ViolationReport,
  type ViolationValue,
} from "./log.ts";
