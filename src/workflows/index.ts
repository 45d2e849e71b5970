export { migrateControlPlane } from './migration';
