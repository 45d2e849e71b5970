/** The activity-context helpers live in lib/ (lib/ never imports activities/); re-exported for activity files. */
export { activityLog, beat, cancelled, lastBeatDetails, workflowExecutionOfActivity } from '../lib/heartbeat';
