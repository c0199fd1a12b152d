import {
  type DataPoint,
  type Histogram,
  MeterProvider,
  MetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { type DlockInstrumentation, instrumentDlock } from '../src/index.js';

/** Collects on demand: no export interval, so tests read metrics when they choose. */
class TestReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

export interface Harness {
  readonly instrumentation: DlockInstrumentation;
  spans(name?: string): ReadableSpan[];
  /** Data points of one metric, attributes and value. */
  points(metric: string): Promise<Array<DataPoint<number | Histogram>>>;
  /** Sum of a counter's points whose attributes include `match`. */
  sum(metric: string, match?: Record<string, unknown>): Promise<number>;
  shutdown(): Promise<void>;
}

/** instrumentDlock on the SDK's in-memory span exporter and a manual metric reader. */
export function startHarness(): Harness {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const reader = new TestReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const instrumentation = instrumentDlock({ tracerProvider, meterProvider });
  const points = async (metric: string) => {
    const { resourceMetrics } = await reader.collect();
    const found = resourceMetrics.scopeMetrics
      .flatMap((s) => s.metrics)
      .find((m) => m.descriptor.name === metric);
    return (found?.dataPoints ?? []) as Array<DataPoint<number | Histogram>>;
  };
  return {
    instrumentation,
    spans: (name) =>
      exporter.getFinishedSpans().filter((s) => name === undefined || s.name === name),
    points,
    async sum(metric, match = {}) {
      let total = 0;
      for (const point of await points(metric)) {
        if (Object.entries(match).every(([k, v]) => point.attributes[k] === v)) {
          total += typeof point.value === 'number' ? point.value : point.value.count;
        }
      }
      return total;
    },
    async shutdown() {
      instrumentation.disable();
      await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()]);
    },
  };
}
