/** The package's public surface: what the platform launcher and tests use. */
export {
  gatewayService,
  createGatewayRedis,
  type GatewayOptions,
  type RunningGateway,
} from './service';
export { buildGateway, type Gateway, type GatewayDeps } from './app';
export { gatewayConfigSchema, loadGatewayConfig, type GatewayConfig } from './config';
export { SERVICE_APIS, apiDocument, gatewayApi } from './apis';
