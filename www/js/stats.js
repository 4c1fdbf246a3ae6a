// Arithmetic over GET /api/stats answers. The endpoint gives totals since the pool started
// (counters and cumulative histogram buckets); everything "over time" is the difference of two
// answers: rates divide a counter's growth by the seconds between the two reads, percentiles
// interpolate within the buckets' growth, as Prometheus's histogram_quantile does.

import { display } from './json.js';

/** A number from the page's exact JSON values (big integers and decimals arrive as strings). */
export function num(value) {
  const n = Number(display(value ?? 0));
  return Number.isFinite(n) ? n : 0;
}

/** Whether an HTTP status counts as an error: the client's (4xx) or the server's (5xx). */
const isError = (status) => status === 'other' || Number(status) >= 400;

/**
 * The counters the dashboard follows, from one answer, taken at `at` (milliseconds of
 * performance.now()). Services are keyed by name; buckets stay cumulative.
 */
export function reading(stats, at) {
  const services = new Map();
  let errors = 0;
  let serverErrors = 0;
  for (const service of stats.services || []) {
    let serviceErrors = 0;
    for (const [status, count] of Object.entries(service.statuses || {})) {
      if (isError(status)) serviceErrors += num(count);
    }
    errors += serviceErrors;
    serverErrors += num(service.server_errors);
    services.set(service.name, {
      requests: num(service.requests),
      errors: serviceErrors,
      buckets: (service.duration_buckets || []).map((b) => ({ le: b.le === null ? Infinity : num(b.le), count: num(b.count) })),
    });
  }
  const slots = (stats.workers && stats.workers.slots) || [];
  return {
    at,
    requests: num(stats.requests),
    errors,
    serverErrors,
    services,
    busy: num(stats.workers && stats.workers.busy),
    idle: num(stats.workers && stats.workers.idle),
    restarts: slots.reduce((sum, slot) => sum + num(slot.restarts), 0),
    slots,
    extra: stats.extra || [],
  };
}

/**
 * What happened between two readings: requests and errors per second, the error share, and per
 * service its requests and p50/p95 over the interval. A counter that went backwards means the
 * pool restarted (counters start at zero with `spo serve`): the interval then counts from zero.
 */
export function interval(before, after) {
  const seconds = Math.max((after.at - before.at) / 1000, 0.001);
  const grew = (a, b) => (b >= a ? b - a : b);
  const requests = grew(before.requests, after.requests);
  const errors = grew(before.errors, after.errors);
  const services = [];
  for (const [name, now] of after.services) {
    const then = before.services.get(name);
    const count = then ? grew(then.requests, now.requests) : now.requests;
    const buckets = now.buckets.map((b, i) => ({
      le: b.le,
      count: then && then.buckets[i] && then.requests <= now.requests ? b.count - then.buckets[i].count : b.count,
    }));
    services.push({
      name,
      requests: count,
      rate: count / seconds,
      errors: then ? grew(then.errors, now.errors) : now.errors,
      p50: quantile(buckets, 0.5),
      p95: quantile(buckets, 0.95),
    });
  }
  return {
    seconds,
    requests,
    errors,
    rate: requests / seconds,
    errorRate: errors / seconds,
    errorShare: requests > 0 ? errors / requests : null,
    services,
  };
}

/**
 * The q-quantile in seconds of cumulative buckets [{le, count}] (the last le is Infinity), by
 * linear interpolation within the bucket that holds it; null without observations. When it
 * falls into +Inf the largest finite bound is the best known answer ("at least").
 */
export function quantile(buckets, q) {
  if (!buckets.length) return null;
  const total = buckets[buckets.length - 1].count;
  if (total <= 0) return null;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const bucket of buckets) {
    if (bucket.count >= rank) {
      if (bucket.le === Infinity) return lowerBound;
      const inBucket = bucket.count - lowerCount;
      if (inBucket <= 0) return bucket.le;
      return lowerBound + (bucket.le - lowerBound) * ((rank - lowerCount) / inBucket);
    }
    lowerBound = bucket.le;
    lowerCount = bucket.count;
  }
  return lowerBound;
}

/** The samples of the `extra` family named `name` (another part of the server adds these), or null. */
export function family(extra, name) {
  const found = extra.find((f) => f.name === name);
  return found && Array.isArray(found.samples) ? found.samples : null;
}
