export { webRoutes } from './web-routes.js';
export { contentSecurityPolicy } from './content-security-policy.js';
