export { migrateControlPlane } from './migration';
export { breakClusterLock } from './lock-break';
