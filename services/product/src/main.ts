import { runService } from '@ecom/common/service';
import { productService } from './service';

void runService(productService);
