export { chainCredentials } from './chain.js';
export { staticCredentials } from './static.js';
export { envCredentials, ENV_USERNAME, ENV_PASSWORD, ENV_REGISTRY_TOKEN } from './env.js';
export { dockerConfigCredentials, dockerConfigPath, type DockerConfigOptions } from './docker-config.js';
export { runCredentialHelper } from './helper.js';
export { registryHost, helperServerUrl, HUB_SERVER_URL } from './registry-key.js';
export { readPasswordStdin } from './stdin.js';
export { defaultCredentials, type DefaultCredentialOptions } from './default.js';
