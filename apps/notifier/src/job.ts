export { NotifyJob, notifyJobId as jobId } from '@chat/contracts';
