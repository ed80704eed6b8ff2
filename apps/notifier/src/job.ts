export { NotifyJob, NotifyStreamJob, recipientJobs } from '@chat/contracts';
