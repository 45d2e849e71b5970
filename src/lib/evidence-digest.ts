/** The digest of a checkpoint's evidence (src/lib/evidence.ts): sha256 of the canonical facts. Worker side only. */
import { sha256hex } from './digest';
import { buildEvidence, canonicalJson, type CheckpointEvidence, type EvidenceFacts, type EvidenceInput } from './evidence';

export function evidenceDigest(facts: EvidenceFacts): string {
  return sha256hex(canonicalJson(facts));
}

/** Facts, observed part and digest from what was read. */
export function digestedEvidence(input: EvidenceInput): CheckpointEvidence {
  const { facts, observed } = buildEvidence(input);
  return { facts, observed, digest: evidenceDigest(facts) };
}
