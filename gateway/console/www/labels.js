// labels.js -- names people read for the proto's enums (proto3 JSON gives
// the enum value names, e.g. "CASE_REASON_UNKNOWN_ADDRESS").
import { enumLabel } from './dom.js';

export const REASONS = ['CASE_REASON_UNKNOWN_ADDRESS', 'CASE_REASON_REGISTRAR_SUSPENDED',
  'CASE_REASON_REGISTRAR_REVOKED', 'CASE_REASON_DELIVERY_DEADLINE', 'CASE_REASON_REPLY_OVERDUE',
  'CASE_REASON_HOP_LIMIT', 'CASE_REASON_ROUTING_LOOP', 'CASE_REASON_REJECTED',
  'CASE_REASON_MALFORMED', 'CASE_REASON_PEER_IDENTITY_MISMATCH', 'CASE_REASON_MESSAGE_ID_CONFLICT'];

export const reasonLabel = (v) => enumLabel(v, 'CASE_REASON_');
export const stateLabel = (v) => enumLabel(v, 'CASE_STATE_');
export const actionLabel = (v) => enumLabel(v, 'CASE_ACTION_KIND_');
export const standingLabel = (v) => enumLabel(v, 'REGISTRAR_STATUS_');
export const serviceKindLabel = (v) => enumLabel(v, 'SERVICE_KIND_');
export const outcomeLabel = (v) => enumLabel(v, 'RESOLVE_OUTCOME_');
