// conformance/requirement_ids.ts is generated from the requirement table; it must be current.
import assert from "node:assert/strict";
import { REQUIREMENT_IDS_PATH, requirementIdsSource } from "../../tools/requirement_ids.ts";

Deno.test("conformance/requirement_ids.ts is current (deno task requirement-ids)", async () => {
  const current = await Deno.readTextFile(
    new URL(`../../${REQUIREMENT_IDS_PATH}`, import.meta.url),
  );
  assert.equal(current, requirementIdsSource(), "run deno task requirement-ids");
});
