export { logoutCommand } from './login.js';
