/**
 * Names and labels of the Leases of one app. App names come from users and may hold anything (`Shop_Orders/EU`,
 * 300 characters); Kubernetes names are DNS-1123 subdomains (lowercase alphanumerics, `-` and `.`, alphanumeric at
 * both ends, at most 253 characters) and label values at most 63 characters, alphanumeric at both ends. So the app
 * name is encoded deterministically: lowercased, every other character turned into `-`, cut to 30 characters, and
 * whenever that changed anything, suffixed with a hash of the original, so two apps whose encodings would collide
 * (`Shop_Orders` and `shop-orders`) still get distinct Leases. The original is kept in an annotation.
 */
import { createHash } from 'node:crypto';

/** Every Lease Durable manages carries this label (`app.kubernetes.io/managed-by: durable`). */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'durable';
/** The encoded app name ({@link appSegment}): a valid label value. */
export const APP_LABEL = 'durable.dev/app';
/** `partition` or `member`. */
export const ROLE_LABEL = 'durable.dev/role';
/** The partition number of a partition Lease. */
export const PARTITION_LABEL = 'durable.dev/partition';
/** The worker pool (a Workflow or Entity resource) of a member Lease's holder, when the operator named it. */
export const POOL_LABEL = 'durable.dev/pool';
/** The app name as given, unencoded. */
export const APP_ANNOTATION = 'durable.dev/app-name';

const MAX_APP_SEGMENT = 30;

function shortHash(text: string, length: number): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, length);
}

/**
 * The app name as it appears in Lease names and in the app label: at most 39 characters of `[a-z0-9-]`,
 * alphanumeric at both ends. The identity for names that are already valid and short (`orders` stays `orders`).
 * @example
 * appSegment('orders'); // 'orders'
 * appSegment('Shop_Orders/EU'); // 'shop-orders-eu-' + 8 hex digits
 */
export function appSegment(app: string): string {
  const cleaned = app
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, MAX_APP_SEGMENT)
    .replace(/^-+|-+$/g, '');
  if (cleaned === app && cleaned.length > 0) return cleaned;
  return `${cleaned || 'app'}-${shortHash(app, 8)}`;
}

/**
 * The Lease of one partition: `durable-<app>-p<NN>`, the number zero-padded to the width of the largest one.
 * @example
 * partitionLeaseName('orders', 7, 64); // 'durable-orders-p07'
 */
export function partitionLeaseName(app: string, partition: number, partitions: number): string {
  const width = Math.max(2, String(partitions - 1).length);
  return `durable-${appSegment(app)}-p${String(partition).padStart(width, '0')}`;
}

/**
 * The member Lease of one worker: `durable-<app>-m-<hash of its identity>` (identities hold `/` and are long).
 * @example
 * memberLeaseName('orders', 'web-7f9c/3b1e'); // 'durable-orders-m-' + 12 hex digits
 */
export function memberLeaseName(app: string, identity: string): string {
  return `durable-${appSegment(app)}-m-${shortHash(identity, 12)}`;
}

/** The label selector that lists every Lease of `app` (partitions and members). */
export function appSelector(app: string): string {
  return `${MANAGED_BY_LABEL}=${MANAGED_BY},${APP_LABEL}=${appSegment(app)}`;
}
