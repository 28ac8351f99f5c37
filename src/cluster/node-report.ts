import { hostname } from 'node:os';
import type { DeliveryCounts, HubStats } from '../hub/index.js';

/** What a node's lease carries, and how `/api/v1/stats` lists each node of the deployment. */
export interface NodeReport {
  readonly node: string;
  readonly host: string;
  readonly pid: number;
  /** ISO 8601. */
  readonly startedAt: string;
  /** When the node last wrote its lease (ISO 8601); for a node read now, now. */
  readonly heartbeatAt: string;
  readonly connections: { readonly total: number; readonly byTransport: Readonly<DeliveryCounts> };
  readonly usersOnline: number;
  readonly memory: { readonly rss: number; readonly heapUsed: number };
}

/** The deployment as `/api/v1/stats` shows it under `deployment`. */
export interface DeploymentStats {
  /** `redis` for a cluster; one process alone (`memory`) is a deployment of one node. */
  readonly driver: 'memory' | 'redis';
  /**
   * False when the other nodes could not be read (Redis unreachable):
   * `nodes` then holds this node and the others as last seen, at most one
   * lease TTL ago.
   */
  readonly complete: boolean;
  /** Every live node, oldest first. */
  readonly nodes: readonly NodeReport[];
  readonly totals: {
    readonly nodes: number;
    readonly connections: { readonly total: number; readonly byTransport: Readonly<DeliveryCounts> };
    /** Distinct users with a connection on any node. */
    readonly usersOnline: number;
    readonly memory: { readonly rss: number; readonly heapUsed: number };
  };
}

/** This process's report, read now. */
export function reportOf(node: string, startedAt: number, hub: Pick<HubStats, 'connections' | 'byTransport' | 'usersOnline'>): NodeReport {
  const { rss, heapUsed } = process.memoryUsage();
  return {
    node,
    host: hostname(),
    pid: process.pid,
    startedAt: new Date(startedAt).toISOString(),
    heartbeatAt: new Date().toISOString(),
    connections: { total: hub.connections, byTransport: hub.byTransport },
    usersOnline: hub.usersOnline,
    memory: { rss, heapUsed },
  };
}

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/** A lease read from Redis, or undefined when it is not one this version writes (another version's, or garbage). */
export function parseReport(text: string): NodeReport | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const report = value as NodeReport;
  const byTransport = report?.connections?.byTransport;
  const valid =
    typeof report?.node === 'string' &&
    typeof report.host === 'string' &&
    isCount(report.pid) &&
    typeof report.startedAt === 'string' &&
    typeof report.heartbeatAt === 'string' &&
    isCount(report.connections?.total) &&
    isCount(byTransport?.sse) &&
    isCount(byTransport.ws) &&
    isCount(byTransport.socketio) &&
    isCount(report.usersOnline) &&
    isCount(report.memory?.rss) &&
    isCount(report.memory.heapUsed);
  return valid ? report : undefined;
}

/** The deployment's picture from its nodes' reports. */
export function describeDeployment(
  driver: DeploymentStats['driver'],
  reports: readonly NodeReport[],
  usersOnline: number,
  complete: boolean,
): DeploymentStats {
  const nodes = [...reports].sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.node.localeCompare(b.node));
  const byTransport = { sse: 0, ws: 0, socketio: 0 };
  const memory = { rss: 0, heapUsed: 0 };
  for (const report of nodes) {
    byTransport.sse += report.connections.byTransport.sse;
    byTransport.ws += report.connections.byTransport.ws;
    byTransport.socketio += report.connections.byTransport.socketio;
    memory.rss += report.memory.rss;
    memory.heapUsed += report.memory.heapUsed;
  }
  return {
    driver,
    complete,
    nodes,
    totals: {
      nodes: nodes.length,
      connections: { total: byTransport.sse + byTransport.ws + byTransport.socketio, byTransport },
      usersOnline,
      memory,
    },
  };
}
