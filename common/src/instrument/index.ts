/**
 * Import this first in an entry point (`import '@ecom/common/instrument';` as its first line):
 * with OTEL_EXPORTER_OTLP_ENDPOINT set (and OTEL_SDK_DISABLED not true) it registers the driver
 * instrumentations before any driver is loaded, which their require hooks need. Otherwise it
 * loads nothing. OTEL_NODE_DISABLED_INSTRUMENTATIONS (comma-separated: pg, mongodb, mongoose,
 * ioredis, amqplib, express) leaves drivers out. Tracing itself starts later, from the
 * validated configuration (the kit).
 */
import { registerDriverInstrumentations } from '../tracing/drivers';

if (
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT &&
  process.env.OTEL_SDK_DISABLED?.toLowerCase() !== 'true'
) {
  registerDriverInstrumentations(
    new Set(
      (process.env.OTEL_NODE_DISABLED_INSTRUMENTATIONS ?? '')
        .split(',')
        .map((name) => name.trim().toLowerCase())
        .filter(Boolean),
    ),
  );
}
