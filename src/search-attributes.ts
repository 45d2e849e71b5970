/**
 * Custom search attributes, so `temporal workflow list --query "CpmPendingGate='switch-traffic'"`
 * and the Web UI find migrations. Registered by scripts/dev-server.sh on the dev server; in
 * production: temporal operator search-attribute create --name CpmCluster --type Keyword (etc.).
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const CpmCluster = defineSearchAttributeKey('CpmCluster', SearchAttributeType.KEYWORD);
export const CpmStep = defineSearchAttributeKey('CpmStep', SearchAttributeType.KEYWORD);
export const CpmPendingGate = defineSearchAttributeKey('CpmPendingGate', SearchAttributeType.KEYWORD);

/** name → type, as `temporal server start-dev --search-attribute NAME=TYPE` takes them */
export const SEARCH_ATTRIBUTES: Record<string, 'Keyword'> = {
  CpmCluster: 'Keyword',
  CpmStep: 'Keyword',
  CpmPendingGate: 'Keyword',
};
