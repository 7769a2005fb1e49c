/**
 * The learner's parts for `lab fuzz --mine`, loaded inside each fuzz worker
 * (`fuzz/worker.ts` imports this module by URL and calls
 * {@linkcode loadFuzzParts}): the parts of every lesson passed, with the
 * lessons' feature mask.
 *
 * @module
 */

import type { MachineParts } from "../machine.ts";
import { learnerParts } from "./learner_parts.ts";

/**
 * The learner's parts and feature mask.
 *
 * @returns What `learnerParts` found.
 */
export async function loadFuzzParts(): Promise<
  { readonly parts: MachineParts; readonly featureMask: bigint }
> {
  const mine = await learnerParts();
  return { parts: mine.parts, featureMask: mine.featureMask };
}
