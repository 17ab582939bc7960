import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type PrometheusContentType, type Registry } from 'prom-client';
import { IpcChannel, PendingCalls } from '../common/ipc-channel';

/**
 * `/metrics` in cluster mode (WORKERS > 1): whichever worker a scrape reaches answers for the
 * whole server, as one process would. The worker asks the primary; the primary asks every
 * worker for its registry (prom-client's cluster aggregation) and answers with the sum — or, for
 * a gauge of state every worker holds alike (keys, revocations, parent tokens), one worker's
 * value (its `aggregator`). Without this each scrape showed one worker's counters, which
 * Prometheus takes for counter resets.
 */
const ASK = 'tessera:metrics';

interface MetricsAnswer {
  type: typeof ASK;
  id: number;
  text?: string;
  error?: string;
}

/** The primary: answers its workers' requests for the cluster's metrics. */
export function serveClusterMetrics(
  worker: Worker,
  aggregator: AggregatorRegistry<PrometheusContentType>,
): void {
  worker.on('message', (message: { type?: string; id?: number }) => {
    if (message?.type !== ASK || typeof message.id !== 'number') return;
    const id = message.id;
    aggregator.clusterMetrics().then(
      (text: string) => sendIfConnected(worker, { type: ASK, id, text }),
      (error: Error) => sendIfConnected(worker, { type: ASK, id, error: error.message }),
    );
  });
}

function sendIfConnected(worker: Worker, answer: MetricsAnswer): void {
  if (worker.isConnected()) worker.send(answer);
}

/**
 * A worker's side: `registry` is what it contributes when the primary collects (prom-client
 * answers those requests itself once an AggregatorRegistry exists in the process), and
 * {@link ClusterMetricsClient.collect} asks the primary for the cluster's text.
 */
export class ClusterMetricsClient {
  private readonly calls = new PendingCalls<string>(
    () => new Error('The cluster primary did not answer'),
  );

  constructor(
    registry: Registry,
    private readonly channel: IpcChannel = process as unknown as IpcChannel,
  ) {
    new AggregatorRegistry(); // registers prom-client's worker-side listener
    AggregatorRegistry.setRegistries([registry]);
    channel.on('message', (message) => {
      const answer = message as MetricsAnswer;
      if (answer?.type !== ASK || typeof answer.id !== 'number') return;
      if (answer.text !== undefined) this.calls.settle(answer.id, answer.text);
      else this.calls.fail(answer.id);
    });
    channel.on('disconnect', () => this.calls.failAll());
  }

  /** The whole cluster's metrics, in Prometheus' text format. */
  collect(): Promise<string> {
    const { id, answer } = this.calls.open();
    if (!this.channel.connected || !this.channel.send) this.calls.fail(id);
    else
      this.channel.send({ type: ASK, id }, (error) => {
        if (error) this.calls.fail(id);
      });
    return answer;
  }
}

/** In a cluster worker: the client that asks the primary; otherwise undefined. */
export function clusterMetricsClient(registry: Registry): ClusterMetricsClient | undefined {
  return cluster.isWorker ? new ClusterMetricsClient(registry) : undefined;
}
