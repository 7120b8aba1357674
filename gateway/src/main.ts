import { runService } from '@ecom/common/service';
import { gatewayService } from './service';

void runService(gatewayService);
