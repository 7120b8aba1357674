import { runService } from '@ecom/common/service';
import { authService } from './service';

void runService(authService);
